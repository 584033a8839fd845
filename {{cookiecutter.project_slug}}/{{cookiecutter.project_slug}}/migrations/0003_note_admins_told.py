from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("{{ cookiecutter.project_slug }}", "0002_task_ready_notify"),
    ]

    operations = [
        migrations.AddField(
            model_name="note",
            name="admins_told",
            field=models.BooleanField(default=False),
        ),
    ]
