from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from gazette import version


def index(request):
    return HttpResponse(f"gazette {version.VERSION}")


def health(request):
    connection.ensure_connection()
    if not version.HEALTHY:
        return HttpResponse("unhealthy", status=500)
    return HttpResponse("ok")


@csrf_exempt
def upload(request, name):
    if request.method != "POST":
        return HttpResponse(status=405)
    saved = default_storage.save(f"uploads/{name}", ContentFile(request.body))
    return HttpResponse(saved)
