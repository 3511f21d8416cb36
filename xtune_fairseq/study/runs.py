"""The demos' rows: which run (folder, flags, stages) gives a table row, and training the rows of one
seed, each run once, finished runs reused (their scores of the split kept in the run's folder)."""

import json
import os

from xtune_fairseq import pipeline
from xtune_fairseq.core.files import atomic_open


class Row:
    """A table row: the stage `key` of the run in FOLDER-sSEED; runs sharing a folder run once.
    teacher: the folder whose stage 1 is R2's teacher (default: the run's own stage 1)."""

    def __init__(self, folder, flags, stages, key, teacher=None):
        self.folder, self.flags, self.stages, self.key, self.teacher = folder, flags, stages, key, teacher


def run_rows(rows, names, common, out, seed, label="demo", split="test"):
    """{name: evaluation on split} of the named rows for one seed; each run folder's scores of the split
    (results.json for test, results-SPLIT.json else) are reused, and a run trained for another split's
    table is only scored (the pipeline skips finished stages)."""

    def train(row, folder, stages):
        print(f"[{label}] {row.folder} (seed {seed})", flush=True)
        pipeline.run_pipeline(pipeline.parse_flags(common + row.flags + ["--out", folder, "--seed", str(seed),
                                                                         "--stages", stages, "--eval-stages", stages,
                                                                         "--split", split]))

    results = {}
    scores_file = pipeline.results_stem(split) + ".json"
    by_folder = {row.folder: row for row in rows.values()}
    for name in names:
        row = rows[name]
        folder = os.path.join(out, f"{row.folder}-s{seed}")
        done = os.path.join(folder, scores_file)
        if _scores(done, row.key) is None:  # not run, or run for a row sharing its folder and fewer stages
            if row.teacher:  # R2's teacher: another row's stage-1 model of the same seed
                teacher = os.path.join(out, f"{row.teacher}-s{seed}")
                if not os.path.isfile(os.path.join(teacher, "stage1", "checkpoint_best.pt")):
                    # its results kept but not its checkpoints (a copied study): stage 1 again, same
                    # seed; the results it had stay as they were
                    kept = os.path.join(teacher, scores_file)
                    saved = open(kept).read() if os.path.isfile(kept) else None
                    train(by_folder[row.teacher], teacher, "1")
                    if saved is not None:
                        with atomic_open(kept) as f:
                            f.write(saved)
                    else:  # stage 1 alone was scored: the teacher's own row scores all its stages in its turn
                        os.remove(kept)
                os.makedirs(folder, exist_ok=True)
                link = os.path.join(folder, "stage1")
                if not os.path.islink(link):
                    os.symlink(os.path.join("..", f"{row.teacher}-s{seed}", "stage1"), link)
            train(row, folder, row.stages)
        results[name] = _scores(done, row.key)
    return results


def _scores(path, key):
    """The scores of stage `key` in a run's results file, None if it has none."""

    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f).get(key)
