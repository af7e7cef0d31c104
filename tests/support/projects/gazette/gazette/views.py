from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpResponse
from django.templatetags.static import static
from django.views.decorators.csrf import csrf_exempt

from gazette import version


def index(request):
    return HttpResponse(f"gazette {version.VERSION}")


def stylesheet(request):
    """The URL of the stylesheet this release's pages link to (its hashed name)."""
    return HttpResponse(static("gazette/site.css"))


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
