from django.conf import settings
from django.http import HttpResponse

from greetings.models import Greeting


def index(request):
    texts = ", ".join(greeting.text for greeting in Greeting.objects.order_by("id"))
    return HttpResponse(f"shop {settings.SHOP_VERSION}: {texts}")


def health(request):
    Greeting.objects.exists()
    return HttpResponse("ok")
