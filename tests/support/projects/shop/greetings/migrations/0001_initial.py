from django.db import migrations, models


def add_hello(apps, schema_editor):
    apps.get_model("greetings", "Greeting").objects.create(text="hello")


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Greeting",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.CharField(max_length=100)),
            ],
        ),
        migrations.RunPython(add_hello, migrations.RunPython.noop),
    ]
