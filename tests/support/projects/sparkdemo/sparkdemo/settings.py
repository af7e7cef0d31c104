import os
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-only-for-tests")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "greetings",
]
MIDDLEWARE = []
ROOT_URLCONF = "sparkdemo.urls"
TEMPLATES = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SPARKDEMO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_I18N = True
LANGUAGE_CODE = "en"
STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("SPARKDEMO_STATIC_ROOT", str(BASE_DIR / "static_collected"))
SPARKDEMO_VERSION = "v1"

# Lets a test keep the process alive long enough to be seen in the process list.
if os.environ.get("SPARKDEMO_SLOW_START"):
    time.sleep(float(os.environ["SPARKDEMO_SLOW_START"]))
