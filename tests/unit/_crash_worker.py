"""Runs a slow fake optimisation into a run dir; the test kills it with SIGKILL mid-run."""

import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))

from fakes import BAD_RULE, GOOD_RULE, JUDGE, agent_handler, make_agent, make_optimizer_llm, parity_examples  # noqa: E402

from promptlearn import OptimizeConfig, optimize  # noqa: E402

CONFIG = OptimizeConfig(max_iterations=6, minibatch_size=4, seed=3, patience=10)


def build(slow: bool):
    agent, llm = make_agent()
    if slow:
        def handler(request):
            time.sleep(0.05)
            return agent_handler(request)

        llm.backend.handler = handler
    return agent, make_optimizer_llm([BAD_RULE, GOOD_RULE])


if __name__ == "__main__":
    agent, opt = build(slow=True)
    optimize(agent, "Answer even or odd.", parity_examples(20), parity_examples(10, 100), judges=JUDGE,
             optimizer_llm=opt, config=CONFIG, run_dir=sys.argv[1], progress=False)
