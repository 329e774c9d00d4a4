import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from engine.catalog import OBJECTS_FILE
from engine.cli import app
from engine.data.schema import read_table
from tests.engine.conftest import as_plasticc_dir

FIXTURES = Path(__file__).parent / "data" / "fixtures"
runner = CliRunner()


def test_ingest_writes_canonical_table(tmp_path):
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["ingest", str(FIXTURES / "mags_gR.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = read_table(out)
    assert table.height > 0 and "wrote" in result.output


def test_ingest_bad_band_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("object_id,mjd,band,mag,magerr\na,60000,Q,20,0.1\n")
    result = runner.invoke(app, ["ingest", str(bad), "--out", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2
    assert "error:" in result.output and "unknown band 'Q'" in result.output
    assert "Traceback" not in result.output


def test_ingest_band_map_adds_a_band(tmp_path):
    bad = tmp_path / "w.csv"
    bad.write_text(
        "object_id,mjd,band,mag,magerr\na,60000,Q,20,0.1\na,60001,Q,20,0.1\na,60002,Q,20,0.1\n"
    )
    out = tmp_path / "x.parquet"
    result = runner.invoke(app, ["ingest", str(bad), "--out", str(out), "--band-map", "Q=5000"])
    assert result.exit_code == 0, result.output
    assert read_table(out)["wavelength"][0].to_list() == [5000.0] * 3


def test_score_and_evaluate(tmp_path, model_dir, sample_table):
    data = tmp_path / "data.parquet"
    sample_table.head(30).write_parquet(data)
    preds = tmp_path / "preds.parquet"
    result = runner.invoke(
        app, ["score", str(data), "--out", str(preds), "--model", str(model_dir)]
    )
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(preds)
    assert frame.height == 30 and {"pred_class", "confidence", "unsure"} <= set(frame.columns)

    metrics = tmp_path / "m.json"
    result = runner.invoke(
        app, ["evaluate", "--data", str(data), "--out", str(metrics), "--model", str(model_dir)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(metrics.read_text())
    assert report["n_objects"] == 30
    assert 0.0 <= report["classification"]["macro_f1"] <= 1.0
    assert report["next_point_nll"]["n_points"] > 0


def test_score_reads_any_ingest_format(tmp_path, model_dir):
    preds = tmp_path / "p.parquet"
    result = runner.invoke(
        app,
        ["score", str(FIXTURES / "ztf_alerts.csv"), "--out", str(preds), "--model", str(model_dir)],
    )
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(preds).height >= 1


def test_score_unknown_model_is_clear(tmp_path):
    result = runner.invoke(
        app,
        ["score", str(FIXTURES / "mags_gR.csv"), "--out", str(tmp_path / "p"), "--model", "nope"],
    )
    assert result.exit_code == 2 and "no model named 'nope'" in result.output


SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "sample_data" / "catalog"


def test_index_a_folder_of_shards_then_add_objects(tmp_path, model_dir, sample_table):
    shards, out = tmp_path / "shards", tmp_path / "catalog"
    (shards / "south").mkdir(parents=True)
    sample_table.slice(0, 12).write_parquet(shards / "a.parquet")
    sample_table.slice(12, 12).write_parquet(shards / "south" / "b.parquet")
    model = ["--models", str(model_dir)]
    result = runner.invoke(app, ["index", str(shards), "--out", str(out), *model])
    assert result.exit_code == 0, result.output
    assert "catalogue of 24 objects" in result.output
    assert read_table(out / OBJECTS_FILE)["object_id"].to_list() == (
        sample_table.head(24)["object_id"].to_list()
    )
    new = tmp_path / "new.parquet"
    sample_table.slice(24, 3).drop("label").write_parquet(new)
    result = runner.invoke(app, ["index", str(new), "--out", str(out), "--add"])
    assert result.exit_code == 0, result.output
    assert "added 3 objects" in result.output
    elsewhere = [str(new), "--out", str(tmp_path / "x"), *model]
    result = runner.invoke(app, ["index", *elsewhere, "--engine", "spark"])
    assert result.exit_code != 0 and "--engine must be 'local' or 'dask'" in result.output
    result = runner.invoke(app, ["index", *elsewhere, "--index-kind", "annoy"])
    assert result.exit_code == 2 and "index kind must be one of auto, flat" in result.output
    result = runner.invoke(app, ["index", *elsewhere, "--engine", "dask"])
    assert result.exit_code == 2 and "folder of Parquet shards" in result.output


def test_neighbours_and_anomalies_on_the_shipped_catalogue():
    result = runner.invoke(app, ["neighbours", str(SAMPLE_CATALOG), "615", "-k", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") > 3 and "615 " not in result.output.split("╡", 1)[1]
    result = runner.invoke(app, ["anomalies", str(SAMPLE_CATALOG), "--top", "5"])
    assert result.exit_code == 0, result.output
    assert "rank" in result.output
    result = runner.invoke(app, ["neighbours", str(SAMPLE_CATALOG), "no-such-object"])
    assert result.exit_code == 2 and "no-such-object" in result.output


def test_embedding_and_anomaly_benchmarks_print_their_tables(
    tmp_path, model_dir, family_dirs, sample_table
):
    as_plasticc_dir(sample_table.head(200), tmp_path)
    models = ["--models", str(model_dir), "--models", family_dirs["tiny-rtf"]]
    out = tmp_path / "embeddings.parquet"
    result = runner.invoke(
        app, ["evaluate-embeddings", "--data", str(tmp_path), *models, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "| tiny-atcat | atcat | 32 |" in result.output and "| tiny-rtf | rtf | 8 |" in result.output
    )
    assert pl.read_parquet(out)["model"].to_list() == ["tiny-atcat", "tiny-rtf"]
    result = runner.invoke(
        app,
        [
            "anomaly-benchmark",
            "--data",
            str(tmp_path),
            *models,
            "--classes",
            "SNIa",
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| tiny-rtf | reconstruction_error |" in result.output
    result = runner.invoke(app, ["evaluate-embeddings", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and result.output.startswith("error:")


READING_COMMANDS = ("ingest", "score", "index", "evaluate")


def test_every_reading_command_has_the_same_input_options():
    from typer.main import get_command

    from engine.cli_input import INPUT_OPTIONS

    commands = get_command(app).commands
    expected = {f"--{name.replace('_', '-')}" for name in INPUT_OPTIONS} | {"--lenient"}
    for name in READING_COMMANDS:
        options = {o for p in commands[name].params for o in p.opts + p.secondary_opts}
        assert expected <= options, (name, expected - options)
        result = runner.invoke(app, [name, "--help"], terminal_width=200)
        assert "Input (light-curve files)" in result.output and "--min-points" in result.output


def test_a_messy_file_ingests_scores_and_indexes_with_a_report(tmp_path, model_dir, sample_table):
    from tests.messy import write_messy_csv, write_metadata_csv

    table = sample_table.head(40)
    messy, meta = tmp_path / "messy.csv", tmp_path / "meta.csv"
    injected = write_messy_csv(table, messy)
    write_metadata_csv(table, meta)
    report = tmp_path / "report.json"
    out = tmp_path / "clean.parquet"
    result = runner.invoke(app, ["ingest", str(messy), "-o", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert f"{injected['sentinel_magnitudes']} sentinel mags" in result.output
    (file,) = json.loads(report.read_text())["files"]
    counts = {r["rule"]: r["points"] for r in file["rules"]}
    assert {rule: counts[rule] for rule in injected} == injected
    assert file["summary"] in result.output

    preds = tmp_path / "preds.parquet"
    scored = ["score", str(messy), "--metadata", str(meta), "-o", str(preds), "-m", str(model_dir)]
    result = runner.invoke(app, scored)
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(preds).height == read_table(out).height
    without = tmp_path / "without.parquet"
    result = runner.invoke(app, ["score", str(messy), "-o", str(without), "-m", str(model_dir)])
    assert result.exit_code == 0, result.output
    with_meta = pl.read_parquet(preds).drop("object_id", "pred_class")
    assert not with_meta.equals(pl.read_parquet(without).drop("object_id", "pred_class"))

    catalog = tmp_path / "catalog"
    result = runner.invoke(app, ["index", str(messy), "-o", str(catalog), "-m", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert read_table(catalog / OBJECTS_FILE).height == read_table(out).height

    result = runner.invoke(app, ["ingest", str(messy), "-o", str(out), "--strict"])
    assert result.exit_code == 2
    assert "column 'mag' does not look like AB magnitudes: 99.99 at row" in result.output


def test_shard_folders_refuse_options_they_would_ignore(tmp_path, sample_table):
    shards = tmp_path / "shards"
    shards.mkdir()
    sample_table.head(3).write_parquet(shards / "a.parquet")
    for command in (["index", "-o", str(tmp_path / "c")], ["score", "-o", str(tmp_path / "p")]):
        command += ["--engine", "dask"]  # refused before a cluster starts
        result = runner.invoke(app, [*command, str(shards), "--band-map", "w=6000"])
        assert result.exit_code == 2 and "do not apply to a folder" in result.output


def test_printed_ids_lose_terminal_controls(capsys):
    from engine.cli import _print_frame

    _print_frame(pl.DataFrame({"object_id": ["\x1b[2J\x1b[31mred", "rtl\u202ecba", "ok\x00"]}))
    printed = capsys.readouterr().out
    assert "red" in printed and "rtlcba" in printed and "ok" in printed
    assert not any(c in printed for c in "\x1b\u202e\x00")


def test_error_messages_lose_terminal_controls(tmp_path):
    bad = tmp_path / "\x1b[2Jbad\u202evsc.csv"  # the message names the file as it is
    bad.write_text("object_id,mjd,band,mag,magerr\na,60000,Q,20,0.1\n")
    result = runner.invoke(app, ["ingest", str(bad), "--out", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2 and "error:" in result.output
    assert not any(c in result.output for c in "\x1b\u202e")


def test_plan_ranks_the_listed_objects(tmp_path, model_dir, sample_table):
    data = tmp_path / "data.parquet"
    sample_table.head(6).write_parquet(data)
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(sample_table["object_id"].head(3)) + "\n")
    out = tmp_path / "plan.parquet"
    args = ["plan", str(data), "--out", str(out), "--model", str(model_dir), "--objects", str(ids)]
    result = runner.invoke(app, [*args, "--last-day", "4", "--samples", "4"])
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert sorted(frame["object_id"]) == sorted(sample_table["object_id"].head(3))
    assert frame["days_ahead"].is_between(1, 4).all() and frame["rank"].to_list() == [1, 2, 3]
    assert "best next observation of 3 objects" in result.output

    ids.write_text("not-there\n")
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "not in the catalogue: 'not-there'" in result.output
    result = runner.invoke(app, [*args[:-2], "--anomalies", "3"])
    assert result.exit_code == 2 and "--anomalies needs a catalogue folder" in result.output


def test_adapt_then_score_with_the_head(tmp_path, embedded_catalog, sample_table):
    labels = tmp_path / "labels.csv"
    common = sample_table.head(60).filter(pl.col("label").is_in(["SNIa", "M-dwarf", "EB"]))
    common.select("object_id", "label").write_csv(labels)
    head = tmp_path / "head"
    args = ["adapt", "--labels", str(labels), "--model", "tiny-atcat"]
    result = runner.invoke(app, [*args, "--catalog", str(embedded_catalog), "--out", str(head)])
    assert result.exit_code == 0, result.output
    assert f"from {common.height} labels, 3 classes" in result.output and "SNIa" in result.output
    data, preds = tmp_path / "new.parquet", tmp_path / "p.parquet"
    sample_table.slice(60, 7).write_parquet(data)
    result = runner.invoke(app, ["score", str(data), "--out", str(preds), "--head", str(head)])
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(preds)
    assert frame.height == 7 and {"p_EB", "p_M-dwarf", "p_SNIa"} <= set(frame.columns)
    assert "unsure" not in frame.columns

    labels.write_text("object_id,label\na,SNIa\n")
    result = runner.invoke(app, [*args, "--catalog", str(embedded_catalog), "--out", str(head)])
    assert result.exit_code == 2 and "at least 2 classes" in result.output
    result = runner.invoke(app, ["score", str(data), "--out", str(preds), "--head", str(tmp_path)])
    assert result.exit_code == 2 and "not a classifier head" in result.output
