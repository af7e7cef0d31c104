from celery import shared_task

from greetings.models import Greeting


@shared_task
def add_greeting(text):
    return Greeting.objects.create(text=text).pk
