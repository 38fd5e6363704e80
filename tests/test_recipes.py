"""Training recipes (oodrepro.recipes): the papers' hyper-parameters, validation, and the schedule."""
import math

import pytest

from oodrepro import loop, recipes, train
from oodrepro.errors import ParameterError


def test_knn_ls_recipes_are_section_4_1():
    # knn-ls §4.1: Adam, lr 1e-3, batch 128; MLP 20 epochs, LeNet5 10 epochs; no schedule, no augmentation
    for name, epochs in (("knn_ls_mlp", 20), ("knn_ls_lenet5", 10)):
        r = recipes.get(name)
        assert (r.optimizer, r.lr, r.batch_size, r.epochs, r.schedule) == ("adam", 1e-3, 128, epochs, "constant")
        assert (r.weight_decay, r.flip, r.translate, r.label_smoothing, r.bf16) == (0.0, "none", 0, 0.0, False)


def test_odm_tsinghua_recipe_is_the_papers():
    # odm §4.3: Adam lr 1e-4, 10,000 steps; the authors' code: weight decay 1e-4
    r = recipes.get("odm_tsinghua")
    assert (r.optimizer, r.lr, r.weight_decay, r.steps) == ("adam", 1e-4, 1e-4, 10_000)
    assert r.total_steps(7045) == 10_000


def test_odm_cpu_keeps_the_papers_optimiser_and_names_its_deviation():
    paper, cpu = recipes.get("odm_tsinghua"), recipes.get("odm_cpu")
    assert (cpu.optimizer, cpu.weight_decay, cpu.batch_size) == (paper.optimizer, paper.weight_decay, paper.batch_size)
    assert (cpu.schedule, cpu.flip, cpu.translate, cpu.steps) == ("triangle", "none", 2, 5_000)
    assert "WRN-28-10" in cpu.deviation and paper.deviation == ""


def test_cifar_speedrun_is_airbench94_rewritten_for_a_mean_loss():
    r = recipes.get("cifar_speedrun")
    # airbench94: lr 11.5 per 1024 examples / (1 + 1/(1 - 0.85)) per example, x 1024 for a mean loss
    kilostep = 1024 * (1 + 1 / (1 - 0.85))
    assert r.lr == pytest.approx(11.5 / kilostep * 1024, rel=1e-12) == pytest.approx(1.5)
    # their decay per step: 0.0153 * 1024 / kilostep = lr * weight_decay
    assert r.lr * r.weight_decay == pytest.approx(0.0153 * 1024 / kilostep, rel=1e-12)
    assert (r.momentum, r.nesterov, r.batch_size, r.epochs, r.label_smoothing) == (0.85, True, 1024, 9.9, 0.2)
    assert (r.flip, r.translate, r.lookahead, r.whiten_bias_epochs, r.norm_lr_scale) == ("alternate", 2, 5, 3, 64.0)
    assert r.drop_last and r.total_steps(50_000) == math.ceil(48 * 9.9) == 476
    assert "ResNet18" in r.deviation


@pytest.mark.parametrize("field,value,fragment", [
    ("lr", -1.0, "'lr' = -1.0"), ("lr", 0.0, "'lr' = 0.0"), ("optimizer", "rmsprop", "'optimizer' = 'rmsprop'"),
    ("schedule", "linear", "'schedule'"), ("batch_size", 0, "'batch_size' = 0"), ("batch_size", 2.5, "'batch_size'"),
    ("epochs", 0, "'epochs' = 0"), ("translate", 9, "'translate' = 9"), ("flip", "yes", "'flip' = 'yes'"),
    ("label_smoothing", 1.0, "'label_smoothing'"), ("milestones", (0.5, 1.5), "'milestones'"),
    ("steps", 0, "'steps' = 0"), ("momentum", float("nan"), "'momentum'"), ("nesterov", True, "'nesterov'")])
def test_a_bad_recipe_value_is_one_line_naming_it(field, value, fragment):
    with pytest.raises(ParameterError) as e:
        recipes.Recipe("bad", **{field: value})
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_unknown_recipe_name_and_field():
    with pytest.raises(ParameterError, match="'recipe' = 'fast'.*cifar_speedrun"):
        recipes.get("fast")
    with pytest.raises(ParameterError, match="recipe field 'learning_rate' does not exist"):
        recipes.get("knn_ls_mlp").replace(learning_rate=1.0)


def test_triangle_schedule_by_hand():
    r = recipes.Recipe("t", schedule="triangle", warmup=0.25, lr_start=0.2, lr_end=0.0)
    assert loop.lr_multiplier(r, 0, 100) == pytest.approx(0.2)
    assert loop.lr_multiplier(r, 25, 100) == pytest.approx(1.0)
    assert loop.lr_multiplier(r, 10, 100) == pytest.approx(0.2 + 0.8 * 0.4)
    assert loop.lr_multiplier(r, 100, 100) == pytest.approx(0.0)
    assert loop.lr_multiplier(r, 62, 100) == pytest.approx(1.0 - 37 / 75)
    c = recipes.Recipe("c", schedule="cosine")
    assert loop.lr_multiplier(c, 50, 100) == pytest.approx(0.5)
    s = recipes.Recipe("s", schedule="step", milestones=(0.5, 0.75))
    assert [loop.lr_multiplier(s, t, 100) for t in (49, 50, 75)] == pytest.approx([1.0, 0.1, 0.01])


def test_explicit_training_arguments_override_the_recipe():
    r = train.resolve_recipe("odm_tsinghua", epochs=3, lr=1e-3)
    assert (r.epochs, r.steps, r.lr, r.weight_decay) == (3, None, 1e-3, 1e-4)
    assert train.resolve_recipe("odm_tsinghua") is recipes.get("odm_tsinghua")
    assert train.resolve_recipe(None).key() == train.resolve_recipe(None, epochs=20, lr=1e-3, batch_size=128).key()


def test_key_leaves_out_descriptions_only():
    a = recipes.get("knn_ls_mlp")
    assert a.replace(source="elsewhere", deviation="x", name="knn_ls_mlp").key() == a.key()
    assert a.replace(lr=2e-3).key() != a.key()
    assert "lr 0.001" in a.describe() and "20 epochs" in a.describe()
