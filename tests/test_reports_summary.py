"""What the report opens with and how it reads: the summary, runs that were
interrupted or cannot be read, one line for the backends not available here,
each reason once, captions about their own figure, and a page with contents."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reports.__main__ import main
from reports.figures import decode_cost, time_figure
from reports.load import RunChoiceWarning, load_points, run_file, select_run_files
from reports.render import Section
from reports.report import not_ok_table
from reports.spread import NO_RATIO
from reports.summary import answer_lines, decode_table, faster_words, headline_table
from reports.tables import Table
from tests.fixtures import make_benchmarks as make

HERE = Path(__file__).parent / "fixtures" / "benchmarks"
CPU_DIR = "Linux-CPython-3.11-64bit"
CPU_1 = HERE / CPU_DIR / "0001_aaa1111_20260101_120000.json"
CPU_2 = HERE / CPU_DIR / "0002_bbb2222_20260102_120000.json"
ACCURACY_RUN = HERE.parent / "accuracy" / "lab-box" / "0001_fff6666_20260305_120000.json"


def run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def storage_with(tmp_path: Path, *files: Path) -> Path:
    storage = tmp_path / "storage"
    (storage / CPU_DIR).mkdir(parents=True)
    for source in files:
        shutil.copy(source, storage / CPU_DIR / source.name)
    return storage


def partial_copy(storage: Path, source: Path, name: str) -> Path:
    data = json.loads(source.read_text())
    data["mixbench_partial"] = True
    data["benchmarks"] = data["benchmarks"][:10]
    target = storage / CPU_DIR / name
    target.write_text(json.dumps(data))
    return target


@pytest.fixture(scope="module")
def cpu() -> pd.DataFrame:
    return load_points([run_file(CPU_1)])


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("page")
    storage = storage_with(tmp, CPU_1)
    out = tmp / "out"
    code, stderr = run("--storage", str(storage), "--out", str(out))
    assert code == 0, stderr
    return {"md": (out / "report.md").read_text(), "html": (out / "report.html").read_text()}


# -- the summary ----------------------------------------------------------------


def lead_of(markdown: str) -> str:
    """What report.md shows between its title and its contents."""
    return markdown.split("\n", 1)[1].split("\n- [Summary](#summary)", 1)[0]


def test_the_report_opens_with_its_answer_in_words(page):
    lines = page["md"].splitlines()
    assert lines[0].startswith("# mixbench report")
    answer = [line for line in lines[1:8] if line.strip() and not line.startswith("<a id")]
    assert answer[0] == (
        "- Training: retnet/chunkwise trains fastest at length 2048, 60 ms per step, 4.0× faster "
        "than attention/sdpa (q1–q3 bounds 3.84–4.16×) [At the longest common value, "
        "test_train_step[retnet/chunkwise-2048]]."
    )
    assert answer[1].startswith(
        "- Decoding: retnet/chunkwise decodes fastest at length 2048, 2 ms per token, 2.0× faster "
        "than attention/sdpa (q1–q3 bounds 1.92–2.08×), with 64 KiB of state against "
        "attention/sdpa's 4 MiB"
    )
    assert answer[2].startswith("- Claims: none checked fails (")
    assert answer[3].startswith("- Accuracy on listops: retnet/chunkwise scores highest, 38.0%")
    assert "from one seed the run cannot tell" in answer[3]
    lead = lead_of(page["md"])
    # the figure beside the answer, the caveats after both, then the contents
    figure = lead.index("![The answer in one picture](figures/headline.png)")
    caveat = lead.index("- Not available here, so in no table or figure: hyena/fft")
    assert lead.index(answer[-1]) < figure < caveat
    sections = [line for line in lines if line.startswith("## ")]
    assert sections[0] == "## Summary"
    summary = page["md"].split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "### At the longest common value" in summary and "### Decoding" in summary
    assert "- Claims: " in summary and "- Holds: " in summary


def test_the_html_page_opens_with_the_answer_beside_its_figure(page):
    html = page["html"]
    body = html.split("<body>", 1)[1]
    lead = body.split('<nav class="toc">', 1)[0]
    assert '<section id="in-short" class="lead">' in lead
    answer, figure = lead.split('<div class="headline">', 1)
    assert "<li>Training: retnet/chunkwise trains fastest at length 2048" in answer
    assert "<li>Claims: none checked fails" in answer
    assert '<figure id="figure-headline">' in figure and "data:image/png;base64," in figure
    assert "Not available here" in figure.split("</figure>", 1)[1]  # the caveats follow


def test_every_sentence_names_a_table_of_the_report_and_a_point_of_its_run(page, tmp_path):
    lines = lead_of(page["md"]).split("![", 1)[0].split("\n")
    sentences = [line for line in lines if line.startswith("- ")]
    assert len(sentences) >= 6
    points = set(load_points([run_file(CPU_1)])["name"].dropna())
    for sentence in sentences:
        source = re.search(r" \[([^\[\]]+?)(?:, (test_\w+\[[^\]]+\]))?\]\.$", sentence)
        assert source, sentence
        table, point = source.groups()
        assert f"### {table}\n" in page["md"], table
        assert point is None or point in points, point


def answer(points: pd.DataFrame, claims: pd.DataFrame | None = None) -> list[str]:
    frame = claims if claims is not None else pd.DataFrame(columns=["claim", "mixer", "verdict"])
    return [line.removeprefix("- ") for line in answer_lines(points, Table("c", "", "", frame))]


TIMES = ("time_s", "time_median_s", "time_q1_s", "time_q3_s", "time_min_s", "time_max_s")


def scaled(points: pd.DataFrame, mixer: str, factor: float) -> pd.DataFrame:
    """``mixer``'s training steps ``factor`` times as long, their spread alike."""
    chosen = (points["mixer"] == mixer) & (points["workload"] == "train_step")
    points = points.copy()
    points.loc[chosen, list(TIMES)] = points.loc[chosen, list(TIMES)] * factor
    return points


def test_the_answer_says_when_attention_is_fastest_and_when_the_run_cannot_tell(cpu):
    training = answer(scaled(cpu, "attention/sdpa", 0.01))[0]
    assert training.startswith("Training: attention/sdpa trains fastest at length 2048, 2.4 ms")
    assert "the next fastest, retnet/chunkwise, takes 25.00× its time (q1–q3 bounds" in training
    # attention/sdpa 1% slower than retnet/chunkwise: within the points' spread
    training = answer(scaled(cpu, "attention/sdpa", 0.25 * 1.01))[0]
    assert training.startswith("Training: retnet/chunkwise trains fastest at length 2048")
    assert "not distinguishable from attention/sdpa (0.99× its time, q1–q3 bounds" in training
    assert faster_words(NO_RATIO, "attention/sdpa") == "no ratio to attention/sdpa there"


def accuracy_points() -> pd.DataFrame:
    return load_points([run_file(ACCURACY_RUN)])


def test_the_answer_names_which_mixer_learns_each_task_or_that_none_does():
    points = accuracy_points()
    found = {line.split(":", 1)[0]: line for line in answer(points) if line.startswith("Acc")}
    listops = found["Accuracy on lra-listops"]
    assert "mamba/scan learns it best, 45.0 ± 2.5% (chance 17.0%); at chance: hyena/fft" in listops
    assert listops.endswith("[Long Range Arena, test_accuracy[lra-listops-mamba/scan]].")
    copy = points[~((points["task"] == "selective_copy") & (points["mixer"] == "mamba/scan"))]
    line = next(s for s in answer(copy) if s.startswith("Accuracy on selective_copy"))
    assert "attention/sdpa scores highest, 90.0 ± 5.0%, not distinguishable from " in line
    assert "retnet/chunkwise (Welch's t-test, α = 0.05)" in line
    hard = points.assign(chance_accuracy=points["chance_accuracy"].where(
        points["task"] != "lra-text", 0.99
    ))  # fmt: skip
    line = next(s for s in answer(hard) if s.startswith("Accuracy on lra-text"))
    assert line.startswith("Accuracy on lra-text: no mixer learns it, none is above chance (99.0%)")


def test_the_answer_names_the_claims_that_do_not_hold(cpu):
    claims = pd.DataFrame(
        {
            "claim": ["Decode state constant", "Decode state constant", "Chunkwise linear"],
            "mixer": ["retnet/chunkwise", "mamba/scan", "retnet/chunkwise"],
            "verdict": ["does not hold", "does not hold", "holds"],
        }
    )
    line = answer(cpu, claims)[2]
    assert line == (
        "Claims that do not hold (2 of 3 checks; 1 hold, 0 inconclusive): Decode state "
        "constant (mamba/scan, retnet/chunkwise) [Claims of each architecture, checked]."
    )


def test_names_from_the_data_in_the_answer_are_escaped_in_both_pages(cpu, tmp_path):
    from reports.render import write_report
    from reports.report import Context, lead_blocks

    hostile = '<img src=x onerror="alert(1)">'
    points = cpu.assign(mixer=cpu["mixer"].replace("retnet/chunkwise", hostile))
    blocks = [block for block in lead_blocks(Context(points, "half")) if block is not None]
    assert hostile in blocks[0]
    write_report(tmp_path, "t", [Section("In short", blocks=blocks)], ["md", "html"])
    for page in ("report.md", "report.html"):
        text = (tmp_path / page).read_text()
        assert "<img src=x" not in text and "&lt;img src=x onerror=" in text


def test_the_summary_names_the_cheapest_at_the_longest_common_value(cpu):
    frame = headline_table(cpu).frame.set_index("workload")
    train = frame.loc["train_step"]
    assert train["at"] == "seq_len=2048" and train["mixers"] == 6
    assert train["fastest"] == "retnet/chunkwise"
    assert train["fastest_vs_attention_x"] == pytest.approx(0.25)  # L vs L^2, 0.01 vs 0.02 s
    assert train["least_memory"] == "retnet/recurrent"
    # attention/math timed out at 2048 but attention/sdpa ran there: every family ran at
    # 2048, so the row is there, without attention/math (a family's slow variant stopping
    # early must not pull the answer down to the shortest lengths)
    forward = frame.loc["forward"]
    assert forward["at"] == "seq_len=2048" and forward["mixers"] == train["mixers"] - 1
    decode = decode_table(cpu).frame.set_index("mixer")
    assert decode.loc["retnet/recurrent", "latency_vs_attention_x"] == pytest.approx(0.5)
    state = make.N_LAYERS * make.BATCH * make.D_MODEL**2 * 4
    attention = 2 * make.N_LAYERS * make.BATCH * 2048 * make.D_MODEL * 4
    assert decode.loc["retnet/recurrent", "state_vs_attention_x"] == pytest.approx(
        state / attention
    )


def test_unavailable_backends_are_one_line_not_rows(page, cpu):
    line = (
        "- Not available here, so in no table or figure: hyena/fft (needs torch.fft on this build)."
    )
    assert page["md"].count(line) == 1
    assert page["md"].count("needs torch.fft") == 1  # in no table, caption or claim
    assert "unavailable" not in set(not_ok_table(cpu).frame["status"])


def test_a_reason_that_repeats_is_shown_once_with_its_points(cpu):
    more = cpu[(cpu["mixer"] == "attention/math") & (cpu["workload"] == "train_step")].copy()
    more = more[more["seq_len"] >= 1024]
    more[["status", "reason", "ok"]] = ["timeout", "over the 10 s budget", False]
    frame = not_ok_table(pd.concat([cpu, more])).frame
    timeouts = frame[frame["reason"] == "over the 10 s budget"]
    assert len(timeouts) == 1 and timeouts["points"].item() == 3
    covers = timeouts["covers"].item()
    assert (
        covers == "attention/math forward seq_len=2048; attention/math train_step seq_len=1024,2048"
    )
    assert (
        frame.loc[frame["status"] == "diverged", "covers"].item() == "mamba/scan accuracy listops"
    )


def test_a_caption_lists_only_what_concerns_its_figure(cpu):
    import matplotlib.pyplot as plt

    time, decode = time_figure(cpu, "length"), decode_cost(cpu, "length")
    try:
        assert "diverged" not in time.caption  # an accuracy point
        assert "hyena/fft" not in time.caption  # unavailable: the summary's line
        assert "timeout" not in decode.caption  # a forward point
    finally:
        plt.close(time.figure)
        plt.close(decode.figure)


def test_the_html_page_has_contents_and_scrolling_tables(page):
    html = page["html"]
    assert '<nav class="toc">' in html
    for anchor in ("summary", "runs", "claims", "training-cost", "points-that-did-not-run"):
        assert f'<a href="#{anchor}">' in html and f'<section id="{anchor}">' in html
    boxes = html.split('<div class="table-scroll">')[1:]
    inside = sum(box.split("</div>", 1)[0].count("<table ") for box in boxes)
    assert inside == html.count("<table ")  # every table scrolls in its own box
    assert ".table-scroll { overflow-x: auto" in html


# -- which run is "latest" ------------------------------------------------------


@pytest.mark.slow
def test_an_interrupted_newest_run_is_not_latest_without_saying_so(tmp_path):
    storage = storage_with(tmp_path, CPU_1)
    partial = partial_copy(storage, CPU_2, "0002_bbb2222_20260102_120000.json")
    with pytest.warns(RunChoiceWarning, match=r"0002 is newer but was interrupted.*--run"):
        chosen = select_run_files(storage, ["latest"])
    assert [f.path.name for f in chosen] == [CPU_1.name]
    out = tmp_path / "out"
    code, stderr = run("--storage", str(storage), "--out", str(out))
    assert code == 0 and "interrupted" in stderr
    summary = (out / "report.md").read_text().split("## Runs")[0]
    assert f"pass --run {CPU_DIR}/0002 for the partial one" in summary
    code, _ = run("--storage", str(storage), "--run", str(partial), "--out", str(out))
    markdown = (out / "report.md").read_text()
    assert "0002 AMD EPYC (partial)" in markdown
    assert "0002 AMD EPYC (partial) was interrupted before its end" in markdown.split("## Runs")[0]
    assert "yes, interrupted" in markdown


def test_only_partial_runs_are_reported_as_partial(tmp_path):
    storage = tmp_path / "storage"
    (storage / CPU_DIR).mkdir(parents=True)
    partial_copy(storage, CPU_1, CPU_1.name)
    with pytest.warns(RunChoiceWarning, match="reported as partial"):
        chosen = select_run_files(storage, ["latest"])
    assert [f.path.name for f in chosen] == [CPU_1.name]


def test_an_unreadable_newest_run_falls_back_to_the_newest_readable(tmp_path):
    storage = storage_with(tmp_path, CPU_1)
    (storage / CPU_DIR / "0002_x_20260109_120000.json").write_text('{"benchmarks": [')
    out = tmp_path / "out"
    code, stderr = run("--storage", str(storage), "--out", str(out))
    assert code == 0
    summary = (out / "report.md").read_text().split("## Runs")[0]
    assert "The newest run" in summary and "0002_x_20260109_120000.json" in summary
    assert f"cannot be read; reporting {CPU_DIR}/0001" in summary
    assert f"--run {CPU_DIR}/0001" in summary
    assert "0001 AMD EPYC" in summary


def test_no_readable_run_is_an_error_that_names_the_files(tmp_path):
    storage = tmp_path / "storage"
    storage.mkdir()
    (storage / "0001_x.json").write_text("nope")
    code, stderr = run("--storage", str(storage), "--out", str(tmp_path / "out"))
    assert code == 2 and "none of the runs" in stderr and "0001_x.json" in stderr


def interleaved_frame(tmp_path, passes, threads=None, **fields) -> pd.DataFrame:
    """The interleaved table of a run of one interleaved point, by mixer."""
    from reports.summary import interleaved_table

    point = make.schema_benchmark(
        make.stats(0.05),
        workload="interleaved",
        sweep="length",
        interleaved_s=passes,
        status="ok",
        **fields,
    )
    if threads is not None:
        point["extra_info"]["threads"] = threads  # a mode-speed file's key beside the schema
    data = make.schema_autosave([point], [], {"sweep": "length"}, stamp="2026-02-01T12:00:00")
    path = tmp_path / "0001_x.json"
    path.write_text(json.dumps(data))
    return interleaved_table(load_points([run_file(path)])).frame.set_index("mixer")


def test_interleaved_passes_give_paired_ratios_with_an_interval(tmp_path):
    from reports.spread import PAIRED, paired_ratio

    found = paired_ratio([1.0, 2.0, 1.0, 2.0], [2.0, 4.0, 2.0, 4.0])
    assert (found.value, found.low, found.high) == pytest.approx((0.5, 0.5, 0.5))  # cancels out
    assert found.source == PAIRED
    found = paired_ratio([1.0, 1.1, 0.9, 1.0], [2.0, 2.0, 2.0, 2.0])
    assert found.low < found.value < found.high < 1
    passes = {"retnet/chunkwise": [0.010, 0.012, 0.011], "attention/sdpa": [0.020, 0.024, 0.022]}
    frame = interleaved_frame(tmp_path, passes, of_workload="forward", seq_len=2048, batch=2)
    row = frame.loc["retnet/chunkwise"]
    assert row["at"] == "seq_len=2048" and row["workload"] == "forward" and row["passes"] == 3
    assert row["vs_baseline_x"] == pytest.approx(0.5) and row["baseline"] == "attention/sdpa"
    assert frame.loc["attention/sdpa", "vs_baseline_x"] == pytest.approx(1.0)
    assert "threads" not in frame.columns  # every comparison on the run's own threads


def test_a_comparison_without_attention_takes_its_ratios_to_the_published_one(tmp_path):
    passes = {"retnet/chunkwise": [1.0, 1.2, 1.1], "retnet/torchscale-chunkwise": [1.5, 1.8, 1.6]}
    frame = interleaved_frame(
        tmp_path, passes, of_workload="mixer_train_step", seq_len=8192, batch=1, threads=2
    )
    ours = frame.loc["retnet/chunkwise"]
    assert ours["baseline"] == "retnet/torchscale-chunkwise" and ours["threads"] == "2"
    assert ours["vs_baseline_x"] == pytest.approx(2 / 3)


def test_points_timed_under_contention_are_named_once(cpu):
    from reports.summary import contention_line

    assert contention_line(cpu) == ""  # older runs record no contention
    busy = cpu.assign(contended=cpu["mixer"].eq("mamba/scan") & cpu["workload"].eq("forward"))
    line = contention_line(busy)
    assert line.startswith("- Timed while the machine was busy")
    assert "0001 AMD EPYC: 4 (mamba/scan forward seq_len=256, " in line  # few: each named
    assert "mamba/scan forward seq_len=2048)" in line and "†" in line
    many = cpu.assign(contended=cpu["workload"].eq("forward"))
    assert "0001 AMD EPYC: 24 (attention/math, attention/sdpa, mamba/scan," in contention_line(many)


def test_one_mixers_alternated_values_are_listed_in_ascending_order(tmp_path):
    passes = {f"retnet/chunkwise@L{n}": [n * 1e-4] * 3 for n in (8192, 1024, 512, 2048)}
    frame = interleaved_frame(tmp_path, passes, of_workload="decode", seq_len=8192, batch=1)
    assert list(frame.index) == [f"retnet/chunkwise@L{n}" for n in (512, 1024, 2048, 8192)]
    assert frame["baseline"].iloc[0] == "retnet/chunkwise@L512"
