from django.db import migrations


def explode(apps, schema_editor):
    raise RuntimeError("sparkdemo v3 migration is broken on purpose")


class Migration(migrations.Migration):
    dependencies = [("greetings", "0002_greeting_language")]
    operations = [migrations.RunPython(explode, migrations.RunPython.noop)]
