from django.conf import settings
from django.http import HttpResponse

from greetings.models import Greeting


def index(request):
    texts = ", ".join(greeting.text for greeting in Greeting.objects.all())
    return HttpResponse(f"{settings.SPARKDEMO_VERSION}: {texts}")
