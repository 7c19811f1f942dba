"""How sure a validation gain is: ``OptimizationResult.val_gain``, ``gain_trail``, the summary and the report."""

from fakes import GOOD_RULE, JUDGE, make_agent, make_optimizer_llm, parity_examples

from promptlearn import Candidate, OptimizationResult, OptimizeConfig, PairedGain, RoundRecord, optimize


def hand_made(seed_scores, steps):
    """A result whose best changed once per step: ``steps`` is [(strategy, scores), ...] in round order."""
    seed = Candidate.create("Answer.")
    candidates, val_scores, history, best = {seed.id: seed}, {seed.id: seed_scores}, [], seed
    for i, (strategy, scores) in enumerate(steps, start=1):
        child = Candidate.create(f"Answer. Rule {i}.")
        candidates[child.id], val_scores[child.id] = child, scores
        history.append(RoundRecord(iteration=i, parent=best.id, strategy=strategy, child=child.id,
                                   outcome="new best", best=child.id))
        best = child
    return OptimizationResult(seed=seed, best=best, candidates=candidates, val_scores=val_scores, history=history)


def scores(pattern):
    return {f"v{i}": float(c) for i, c in enumerate(pattern)}


def test_a_clear_gain_is_outside_the_noise_and_a_one_example_gain_is_not():
    # 24 validation examples: the first step wins 8 and loses none, the second wins 1 more.
    result = hand_made(scores("0" * 12 + "1" * 12), [("demos", scores("1" * 8 + "0" * 4 + "1" * 12)),
                                                     ("rules", scores("1" * 9 + "0" * 3 + "1" * 12))])
    first, second = result.gain_trail()
    assert (first.strategy, first.iteration, first.better, first.worse, first.n) == ("demos", 1, 8, 0, 24)
    assert not first.within_noise and first.ci95[0] > 0 and first.prob_positive > 0.99
    assert (second.strategy, second.better, second.worse) == ("rules", 1, 0)
    assert second.within_noise and abs(second.gain - 1 / 24) < 1e-9
    overall = result.val_gain()
    assert isinstance(overall, PairedGain) and (overall.better, overall.worse) == (9, 0)
    assert "9 better / 0 worse" in result.summary() and "within validation noise" not in result.summary()


def test_a_best_that_gained_by_one_example_says_it_is_within_noise():
    result = hand_made(scores("0101" * 6), [("rules", scores("1101" + "0101" * 5))])
    assert "+0.042" in result.summary() and "1 better / 0 worse; within validation noise" in result.summary()


def test_losses_count_against_wins_on_the_paired_examples_only():
    # The child ran on the first 6 examples (a pass cut short): 3 better, 1 worse there.
    result = hand_made(scores("000011" + "1" * 6), [("demos", scores("111010"))])
    gain = result.val_gain()
    assert (gain.n, gain.better, gain.worse) == (6, 3, 1) and abs(gain.gain - 2 / 6) < 1e-9


def test_no_gain_is_claimed_when_the_seed_is_kept_or_nothing_pairs():
    kept = hand_made(scores("0101"), [])
    assert kept.val_gain() is None and kept.gain_trail() == [] and "better /" not in kept.summary()
    apart = hand_made(scores("01"), [("rules", {"other": 1.0})])
    assert apart.val_gain() is None and apart.gain_trail() == []
    assert "better /" not in apart.summary()


def test_the_loop_result_carries_its_evidence_into_the_summary_and_report(tmp_path):
    agent, _ = make_agent()
    result = optimize(agent, "Answer even or odd.", parity_examples(20), parity_examples(10, 100), judges=JUDGE,
                      optimizer_llm=make_optimizer_llm([GOOD_RULE]),
                      config=OptimizeConfig(max_iterations=3, minibatch_size=4), progress=False)
    assert result.best_val == 1.0 and result.seed_val == 0.5
    (step,) = result.gain_trail()
    gained = next(r for r in result.history if r.gained)
    assert (step.iteration, step.strategy, step.after) == (gained.iteration, gained.strategy, result.best.id)
    assert (step.better, step.worse, step.n) == (5, 0, 10) and not step.within_noise
    assert "+0.500" in result.summary() and "5 better / 0 worse" in result.summary()
    html = result.report(tmp_path / "report.html").read_text()
    assert "How sure each new best was" in html and "5 / 0 of 10" in html
