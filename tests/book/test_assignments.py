"""The classroom assignments (``assignments/<name>/<name>.ipynb``, otter-grader's format; issue 10).

For every assignment: ``otter assign`` builds the student and autograder versions; the autograder, run
locally without Docker (``otter.api.grade_submission``, what ``otter run`` calls), gives

* the instructor's solutions full marks on every question,
* the blank student notebook 0 on every question,
* a plausible wrong answer less than full marks on its question, and full marks on the questions that do
  not build on it (a wrong-answer submission is the solution notebook with one or more functions replaced;
  its final pipeline cell is dropped to save time — it is not graded);

and the student notebook holds no solution code and no hidden test.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

#: one pytest-xdist worker runs this file (its module-scoped fixture is built once)
pytestmark = pytest.mark.xdist_group("assignments")

ROOT = Path(__file__).resolve().parents[2]
OTTER = Path(sys.executable).with_name("otter")
ASSIGNMENTS = sorted(p.parent.name for p in ROOT.glob("assignments/*/*.ipynb") if p.stem == p.parent.name)

# --- plausible wrong answers, per assignment: ({function: source}, questions that must lose points,
# questions that must keep full marks) -------------------------------------------------------------------------
KNN_OFF_BY_ONE = '''
def knn_radius(queries, bank, k=1):
    d = cdist(np.asarray(queries, dtype=float), np.asarray(bank, dtype=float))
    return np.sort(d, axis=1)[:, k]  # the (k+1)-th neighbour: off by one
'''
KNN_NO_SKIP = '''
def loo_normaliser(bank, k=1):
    d = cdist(np.asarray(bank, dtype=float), np.asarray(bank, dtype=float))
    return float(np.sort(d, axis=1)[:, k - 1].mean())  # forgets to skip the point itself
'''
KNN_NOT_NORMALISED = '''
def knn_ls_score(train_layers, test_layers, k=1):
    return np.mean([knn_radius(te, tr, k) for tr, te in zip(train_layers, test_layers)], axis=0)
'''
KPCA_NO_SCALE = '''
def rff_map(z, W, b):
    return np.cos(np.asarray(z, dtype=float) @ W + b)  # forgets sqrt(2/M)
'''
KPCA_HALF_VARIANCE = '''
def rff_weights(d, m, gamma, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, np.sqrt(gamma), size=(d, m)), rng.uniform(0.0, 2.0 * np.pi, size=m)  # variance gamma
'''
KPCA_NO_WHITENING = '''
def nystroem_map(z, landmarks, gamma):
    s, u = np.linalg.eigh(gaussian_kernel(landmarks, landmarks, gamma))
    return gaussian_kernel(np.asarray(z, dtype=float), landmarks, gamma) @ u  # forgets S^(-1/2)
'''
KPCA_NOT_CENTRED = '''
def reconstruction_error(train_features, test_features, evr=0.9):
    f = np.asarray(train_features, dtype=float)
    lam, vec = np.linalg.eigh(f.T @ f / len(f))  # second moment: forgets to centre
    lam, vec = lam[::-1], vec[:, ::-1]
    q = int(np.argmax(np.cumsum(lam) / lam.sum() >= evr)) + 1
    c = np.asarray(test_features, dtype=float)
    return np.linalg.norm(c - c @ vec[:, :q] @ vec[:, :q].T, axis=1)
'''
ODM_SWAPPED = '''
def contrastive_loss(a, b, different, margin=10.0):
    d = torch.sqrt(((a - b) ** 2).sum(1))
    y = different.to(d.dtype)
    return (0.5 * y * d ** 2 + 0.5 * (1 - y) * torch.clamp(margin - d, min=0) ** 2).mean()  # y = 1 read as "same"
'''
ODM_OOD_PAIRS = '''
def odm_pair_labels(y):
    y = np.asarray(y)
    p = (y[:, None] != y[None, :]).astype(int)  # OOD x OOD pairs formed, as "same"
    np.fill_diagonal(p, -1)
    return p
'''
ODM_GLOBAL_MEAN = '''
def ncm_score(train_embeddings, train_labels, test_embeddings):
    e, t = np.asarray(train_embeddings, dtype=float), np.asarray(test_embeddings, dtype=float)
    return ((t - e.mean(axis=0)) ** 2).sum(1)  # distance to the global mean, not the nearest class mean
'''
WRONG = {
    # q3 calls the student's q1 and q2: wrong radii or normalisers cost q3 too
    "knn_ls": [({"knn_radius": KNN_OFF_BY_ONE, "loo_normaliser": KNN_NO_SKIP}, {"q1", "q2"}, set()),
               ({"knn_ls_score": KNN_NOT_NORMALISED}, {"q3"}, {"q1", "q2"})],
    # kpca's and odm's questions are independent (kpca q2's tests use their own map): all wrong in one submission
    "kpca": [({"rff_map": KPCA_NO_SCALE, "rff_weights": KPCA_HALF_VARIANCE, "nystroem_map": KPCA_NO_WHITENING,
               "reconstruction_error": KPCA_NOT_CENTRED}, {"q1", "q2", "q3", "q4"}, set())],
    "odm": [({"contrastive_loss": ODM_SWAPPED, "odm_pair_labels": ODM_OOD_PAIRS, "ncm_score": ODM_GLOBAL_MEAN},
             {"q1", "q2", "q3"}, set())],
}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module's gradings: the pipeline cell trains its classifier once."""
    return tmp_path_factory.mktemp("assignment-cache")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``otter assign --no-run-tests`` of every assignment (the gradings below run the tests)."""
    out = tmp_path_factory.mktemp("dist")
    for a in ASSIGNMENTS:
        subprocess.run([str(OTTER), "assign", "--no-run-tests", str(ROOT / "assignments" / a / f"{a}.ipynb"),
                        str(out / a)], check=True, capture_output=True, text=True)
    return out


def autograder_zip(built: Path, a: str) -> Path:
    (zip_path,) = (built / a / "autograder").glob(f"{a}-autograder_*.zip")
    return zip_path


def grade(nb_path: Path, zip_path: Path) -> dict[str, tuple[float, float]]:
    """{question: (score, possible)} of the autograder ``zip_path`` on notebook ``nb_path`` (no Docker)."""
    from otter.api import grade_submission

    results = grade_submission(str(nb_path), str(zip_path), quiet=True)
    return {q: (results.get_result(q).score, results.get_result(q).possible) for q in results.test_files}


def with_functions(solution: Path, replace: dict[str, str], dest: Path) -> Path:
    """The solution notebook with the cells defining ``replace``'s functions swapped, pipeline cell dropped."""
    nb = nbformat.read(solution, as_version=4)
    done = set()
    for cell in nb.cells:
        m = re.match(r"def (\w+)\(", cell.source) if cell.cell_type == "code" else None
        if m and m.group(1) in replace:
            cell.source = replace[m.group(1)].strip()
            done.add(m.group(1))
    assert done == set(replace), f"no cell defines {set(replace) - done}"
    nb.cells = [c for c in nb.cells if "compare_on_pipeline(" not in c.source]
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def solution_lines(master: Path) -> list[str]:
    """The code lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` comments of the master notebook."""
    lines = []
    for cell in nbformat.read(master, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines() if cell.cell_type == "code" else ():
            if line.strip() == "# BEGIN SOLUTION":
                inside = True
            elif line.strip() == "# END SOLUTION":
                inside = False
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def test_every_assignment_has_wrong_answers():
    assert ASSIGNMENTS, "no assignment found under assignments/"
    assert set(ASSIGNMENTS) == set(WRONG), "give every assignment a plausible wrong answer per question"


@pytest.mark.slow  # otter
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_student_notebook_has_no_solution_or_hidden_test(built, a):
    student = (built / a / "student" / f"{a}.ipynb").read_text()
    lines = solution_lines(ROOT / "assignments" / a / f"{a}.ipynb")
    assert lines, "the master notebook marks no solution code"
    leaked = [line for line in lines if line in student]
    assert not leaked, f"solution code in the student notebook: {leaked}"
    assert "SOLUTION" not in student and "hidden: true" not in student and "_ref" not in student
    assert autograder_zip(built, a).stat().st_size > 0


def _grade_all(jobs: list[tuple[Path, Path]]) -> list[dict]:
    """Grade several submissions, two at a time (forked workers: each grading changes directory)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(grade, *zip(*jobs)))


@pytest.mark.slow  # otter
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_autograder_passes_solutions_fails_blank_and_wrong_answers(built, shared_cache, monkeypatch, tmp_path, a):
    monkeypatch.setenv("OODREPRO_CACHE_DIR", str(shared_cache))
    zip_path = autograder_zip(built, a)
    solution = built / a / "autograder" / f"{a}.ipynb"
    t0 = time.perf_counter()
    scores = grade(solution, zip_path)  # first, alone: it trains the pipeline's classifier into the cache
    print(f"{a}: grading the solutions took {time.perf_counter() - t0:.1f} s")
    assert scores and all(s == p > 0 for s, p in scores.values()), f"solutions do not get full marks: {scores}"

    wrong = [with_functions(solution, replace, tmp_path / f"wrong{i}" / f"{a}.ipynb")
             for i, (replace, _, _) in enumerate(WRONG[a])]
    blank, *graded = _grade_all([(nb, zip_path) for nb in [built / a / "student" / f"{a}.ipynb", *wrong]])
    assert blank.keys() == scores.keys() and all(s == 0 for s, _ in blank.values()), f"blank notebook scores {blank}"
    for (replace, failing, passing), got in zip(WRONG[a], graded):
        assert got.keys() == scores.keys()
        for q in failing:
            assert got[q][0] < got[q][1], f"{a}: wrong {sorted(replace)} still gets full marks on {q}: {got}"
        for q in passing:
            assert got[q][0] == got[q][1], f"{a}: wrong {sorted(replace)} loses points on {q}, which it does not touch: {got}"
