"""Template versions written in the browser: source, publisher agency, the seq of each
version's ``template.published`` event, and a stable key per item.

Existing items get keys here: within a template code, an item keeps the key of the
item with the same title in the version before (``load_sops`` matches code SOPs the
same way), so the diff of two old versions says what changed.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models


def give_items_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    ChecklistTemplate = apps.get_model("operations", "ChecklistTemplate")
    TemplateItem = apps.get_model("operations", "TemplateItem")
    previous: dict[str, dict[str, str]] = {}  # code -> title -> key of the version before
    for template in ChecklistTemplate.objects.order_by("code", "version"):
        earlier = dict(previous.get(template.code, {}))
        used: set[str] = set()
        keys: dict[str, str] = {}
        for item in TemplateItem.objects.filter(template=template).order_by("position"):
            key = earlier.pop(item.title, None) or uuid.uuid4().hex[:12]
            while key in used:
                key = uuid.uuid4().hex[:12]
            used.add(key)
            item.key = key
            item.save(update_fields=["key"])
            keys.setdefault(item.title, key)
        previous[template.code] = keys


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0001_initial"),
        ("operations", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="checklisttemplate",
            name="publisher_agency",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="agencies.agency",
            ),
        ),
        migrations.AddField(
            model_name="checklisttemplate",
            name="seq",
            field=models.PositiveIntegerField(
                blank=True, help_text="The seq of its template.published event.", null=True
            ),
        ),
        migrations.AddField(
            model_name="checklisttemplate",
            name="source",
            field=models.CharField(
                choices=[("code", "Code (load_sops)"), ("browser", "Written in the browser")],
                default="code",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="templateitem",
            name="key",
            field=models.CharField(
                default="", help_text="The same item in every version.", max_length=40
            ),
            preserve_default=False,
        ),
        migrations.RunPython(give_items_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="templateitem",
            constraint=models.UniqueConstraint(
                fields=("template", "key"), name="template_item_unique_key"
            ),
        ),
    ]
