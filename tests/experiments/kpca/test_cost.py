"""kpca's cost page: time and memory against k-NN."""
import pytest

from oodrepro.experiments.kpca import cost


def test_cost_measure_reports_ratios_to_knn():
    rows = cost.measure(400, 16, 32, queries=20, repeat=1)
    assert [r["detector"] for r in rows] == list(cost.DETECTORS)
    knn = rows[-1]
    assert knn["time_vs_knn"] == 1 and knn["memory_vs_knn"] == 1
    assert knn["kept_mib"] == pytest.approx(400 * 16 * 4 / 2 ** 20)
    capped = cost.measure(400, 16, 32, queries=20, repeat=1, fit_cap=100)
    assert [r["fitted"] for r in capped] == [100, 100, 100, 400]  # k-NN always indexes all N
    # KPCA_nys's state: m landmarks and the m × m map whatever the rows fitted; only q may move a little
    assert capped[0]["kept_mib"] == pytest.approx(rows[0]["kept_mib"], rel=0.1)
