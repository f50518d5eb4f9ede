import datetime

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shops", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="oauthstate",
            name="expires_at",
            # Existing rows (if any) are treated as already expired.
            field=models.DateTimeField(
                db_index=True, default=datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
            ),
            preserve_default=False,
        ),
    ]
