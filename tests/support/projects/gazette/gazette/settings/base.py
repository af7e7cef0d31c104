import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-only-for-development")
DEBUG = False
ALLOWED_HOSTS = [name for name in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",") if name]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.staticfiles", "gazette"]
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "gazette.urls"
TEMPLATES = []
WSGI_APPLICATION = "gazette.wsgi.application"
# In the code's own var/ (a shared path when deployed, so it outlives releases).
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "var" / "db.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
# Hashed names (site.3f2a1c.css), as production projects serve them: a page names the files of its release.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
STATIC_ROOT = str(BASE_DIR / "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = str(BASE_DIR / "media")
