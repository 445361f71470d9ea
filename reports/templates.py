"""The pages' jinja2 templates. Kept as Python strings rather than package
files so that an installed ``reports`` finds them without package data.

Each template receives ``title``, ``sections`` (title, anchor, blocks) where a
block is ``kind`` "text", "table" or "figure" with the fields render.py puts
in it; tables and figures arrive already rendered (a markdown table from
``DataFrame.to_markdown``, an HTML one from ``Styler.to_html``).

A first section titled LEAD_TITLE is the page's answer: it is shown under the
title, before the contents and without a heading of its own, so that the
page's first lines are its answer. In report.html its first block (the
sentences) and a figure right after it sit side by side; the rest follow.
"""

from __future__ import annotations

#: the title of the section a page opens with, before its contents
LEAD_TITLE = "In short"

MARKDOWN = """\
{% macro show(block, section) %}
{% if block.kind == "text" %}
{{ block.text }}
{% elif block.kind == "table" %}
{% if block.heading %}
### {{ block.heading }}
{% endif %}
{{ block.caption }} ([CSV]({{ block.csv }}))

{{ block.markdown }}
{% elif block.kind == "figure" %}
![{{ block.title }}]({{ block.png }})

_{{ block.caption }}_ ([SVG]({{ block.svg }}))
{% endif %}
{% endmacro %}
{% set lead = sections[0] if sections and sections[0].title == "@LEAD@" else none %}
{% set rest = sections[1:] if lead else sections %}
# {{ title }}
{% if lead %}
{% for block in lead.blocks %}
{{ show(block) }}
{%- endfor %}
{% endif %}

{% for section in rest -%}
- [{{ section.title }}](#{{ section.anchor }})
{% endfor %}
{% for section in rest %}
<a id="{{ section.anchor }}"></a>

## {{ section.title }}
{% for block in section.blocks %}
{{ show(block) }}
{%- endfor %}
{% endfor %}
""".replace("@LEAD@", LEAD_TITLE)

HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1280px; margin: 1em auto; padding: 0 1em;
       line-height: 1.4; }
h1 { font-size: 1.4em; margin: 0.3em 0 0.6em; }
.lead-row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.lead-row .answer { flex: 1 1 26em; font-size: 0.92em; }
.lead-row .answer ul { margin: 0; padding-left: 1.2em; }
.lead-row .answer li { margin: 0 0 0.35em; }
.lead-row .headline { flex: 1 1 34em; }
.lead-row .headline figure { margin: 0; }
nav.toc { background: #f7f7f7; border: 1px solid #ddd; padding: 0.5em 1.5em; margin: 1em 0 2em; }
nav.toc ol { margin: 0.3em 0; columns: 3 14em; }
.table-scroll { overflow-x: auto; max-width: 100%; margin: 0.5em 0 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
td { white-space: nowrap; }
th { background: #f3f3f3; position: sticky; top: 0; vertical-align: bottom; min-width: 3em; }
td.num { white-space: normal; }
td.text, th.text { text-align: left; }
td.text { white-space: normal; min-width: 6em; max-width: 30em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; }
figcaption, p.caption { color: #444; font-size: 0.9em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
a.back { font-size: 0.8em; font-weight: normal; margin-left: 0.5em; }
"""

HTML = """\
{% macro show(block) %}
{% if block.kind == "text" %}
{% if block.bullets %}<ul>{% for item in block.bullets %}<li>{{ item }}</li>{% endfor %}</ul>
{% else %}{% for paragraph in block.paragraphs %}<p>{{ paragraph }}</p>{% endfor %}{% endif %}
{% elif block.kind == "table" %}
{% if block.heading %}<h3 id="{{ block.anchor }}">{{ block.heading }}</h3>{% endif %}
<p class="caption">{{ block.caption }} <a href="{{ block.csv }}">CSV</a></p>
<div class="table-scroll">{{ block.html }}</div>
{% elif block.kind == "figure" %}
<figure id="{{ block.anchor }}">
<img alt="{{ block.title }}" src="data:image/png;base64,{{ block.png_base64 }}">
<figcaption>{{ block.caption }}</figcaption></figure>
{% endif %}
{% endmacro %}
{% set lead = sections[0] if sections and sections[0].title == "@LEAD@" else none %}
{% set rest = sections[1:] if lead else sections %}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ style }}</style>
</head>
<body>
<h1 id="top">{{ title }}</h1>
{% if lead %}
{% set paired = lead.blocks|length > 1 and lead.blocks[1].kind == "figure" %}
<section id="{{ lead.anchor }}" class="lead">
<div class="lead-row">
<div class="answer">{{ show(lead.blocks[0]) }}</div>
{% if paired %}<div class="headline">{{ show(lead.blocks[1]) }}</div>{% endif %}
</div>
{% for block in lead.blocks[(2 if paired else 1):] %}{{ show(block) }}{% endfor %}
</section>
{% endif %}
<nav class="toc"><strong>Contents</strong>
<ol>
{% for section in rest %}<li><a href="#{{ section.anchor }}">{{ section.title }}</a></li>
{% endfor %}</ol>
</nav>
{% for section in rest %}
<section id="{{ section.anchor }}">
<h2>{{ section.title }} <a class="back" href="#top">↑ contents</a></h2>
{% for block in section.blocks %}
{{ show(block) }}
{% endfor %}
</section>
{% endfor %}
</body>
</html>
""".replace("@LEAD@", LEAD_TITLE)
