"""An RNN controller (an LSTM policy trained by policy gradient), as a
`NASOracle` strategy.

The policy emits one decision per searchable hyperparameter, in the order of
`hyperparameters.space`; each decision is a softmax over its own choice set,
and the embedding of the previous choice is the next step's input. A decision
whose hyperparameter is inactive for the values chosen so far is skipped: its
step still runs (the sequence has a fixed length, which keeps one compiled
training step), but its output is ignored and a "skipped" token feeds the
next step.

Two implementations of one policy:

- Sampling runs in numpy on the Keras weights (about 1 ms per trial).
- The update is a Keras loss minimized with `model.train_on_batch` on
  teacher-forced logits, so it runs on every Keras backend. `y_true` packs,
  per step, the sampled column, whether the step counts, the trial's advantage
  and its log-probability under the policy before the update.

The weights and Adam's state live in numpy between updates; one compiled Keras
model per architecture and process (`_SHARED_MODELS`) is loaded with them for
each update. So the controller survives `keras.backend.clear_session()` (which
keras-tuner calls before every trial) and many oracles in one process share one
trace.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition", section 3 and appendix A (one-layer LSTM, 100 units,
uniform [-0.1, 0.1] init, PPO, Adam lr 0.00035, entropy 1e-5, baseline EMA
0.95, minibatches of 20); Zoph & Le 2017 (REINFORCE); Pham et al. 2018, ENAS
(temperature and `tanh_constant * tanh(logits / temperature)`).
"""

import json
import os
import threading

import numpy as np

from keras_nasnet import _atomic, _validation
from tuner_plugins.strategy import Strategy

PPO = "ppo"
REINFORCE = "reinforce"
UPDATES = (PPO, REINFORCE)

WEIGHTS_FILE = "controller.npz"
# Sequences sampled in one batched pass per proposal.
SAMPLES_PER_PROPOSAL = 8

_START = 0  # token fed to the first step; column c is token c + 1.
_NEG = -1e9  # logit of a column outside a step's choice set.


class _Decision:
    """One searchable hyperparameter: its choices and its logit columns."""

    def __init__(self, hp, choices, offset):
        self.hp = hp
        self.name = hp.name
        self.choices = list(choices)
        self.offset = offset
        self._index = {}
        for i, value in enumerate(self.choices):
            self._index.setdefault((type(value).__name__, value), i)

    def index(self, value):
        """The choice index of `value`, or `None` if it is not a choice."""
        i = self._index.get((type(value).__name__, value))
        if i is not None:
            return i
        # Values that crossed gRPC may change type (int <-> float) or lose
        # float precision: fall back to a tolerant comparison.
        for i, choice in enumerate(self.choices):
            if isinstance(choice, (int, float)) and isinstance(value, (int, float)):
                if not isinstance(choice, bool) and np.isclose(choice, value):
                    return i
            elif choice == value:
                return i
        return None


class ControllerStrategy(Strategy):
    """An LSTM policy over the decisions of a search space, trained by PPO or
    REINFORCE on the finished trials it sampled.

    The initial weights are seeded by the oracle's seed; proposals use the
    oracle's per-trial streams. Each trial the policy drew has the note
    `{"log_prob": <its log-probability when sampled>, "policy": <updates
    done then>}` (`oracle.trial_note`): PPO's old policy. Trials without one
    (the oracle's random fallbacks, when every sample repeats a tried trial)
    are left out of the updates.

    Args:
        units: LSTM units per layer (paper: 100).
        num_layers: stacked LSTM layers (paper: 1).
        learning_rate: Adam's learning rate (paper: 0.00035, for 20,000
            children). `small_search_options` use 0.0035: in 60-trial
            searches with minibatches of 5 it found a median 24.5 of 50
            decisions right on the synthetic objective, against 19 with
            0.00035 and 19 for random search (20 seeds;
            benchmarks/controller_learning_rate.py).
        batch_size: trials the policy drew, finished, per update (paper: 20).
        update: `"ppo"` (paper) or `"reinforce"` (Zoph & Le 2017).
        ppo_clip: PPO's clipping epsilon (Schulman et al. 2017; the paper
            gives none).
        ppo_epochs: gradient steps per PPO minibatch (the paper gives none).
        entropy_weight: weight of the entropy bonus (paper: 1e-5).
        baseline_decay: decay of the exponential moving average of rewards
            subtracted from each reward (paper: 0.95).
        temperature: logits are divided by it (ENAS); `None` means 1.
        tanh_constant: if set, logits are `c * tanh(logits / temperature)`
            (ENAS uses 1.1 for inputs and 2.5 for ops; one constant here).
        failed_reward: reward of a FAILED trial, in reward units (the
            objective, negated for a `"min"` objective); `None` leaves failed
            trials out of the updates.
        init_range: every weight starts uniform in `[-r, r]` (paper: 0.1).

    Raises:
        ValueError: if an argument is out of range.

    Reference: Zoph et al. 2018, "Learning Transferable Architectures for
    Scalable Image Recognition", section 3 and appendix A.

    Example:

    >>> ControllerStrategy(batch_size=5).get_config()["batch_size"]
    5
    """

    name = "controller"
    # Measured: see `learning_rate` and benchmarks/controller_learning_rate.py.
    small_search_options = {"batch_size": 5, "learning_rate": 0.0035}
    # Proposals per trial before the oracle falls back to a random sample.
    # One proposal samples up to 1 + SAMPLES_PER_PROPOSAL sequences; a
    # converged policy whose 9 samples all repeat tried trials is not going
    # to stop soon, and each further attempt costs as much as the decision
    # time target (20 ms, benchmarks/oracle_decision_time.py). The random
    # sample that follows is also exploration the converged policy lacks.
    max_attempts = 1

    def __init__(
        self,
        units: int = 100,
        num_layers: int = 1,
        learning_rate: float = 0.00035,
        batch_size: int = 20,
        update: str = PPO,
        ppo_clip: float = 0.2,
        ppo_epochs: int = 4,
        entropy_weight: float = 1e-5,
        baseline_decay: float = 0.95,
        temperature: float | None = None,
        tanh_constant: float | None = None,
        failed_reward: float | None = None,
        init_range: float = 0.1,
    ):
        check_int, check_real = _validation.check_int, _validation.check_real
        self.units = check_int("units", units, 1)
        self.num_layers = check_int("num_layers", num_layers, 1)
        self.learning_rate = check_real(
            "learning_rate", learning_rate, 0, closed=(False, True)
        )
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.update = _validation.check_choice("update", update, UPDATES)
        self.ppo_clip = check_real("ppo_clip", ppo_clip, 0, 1, closed=(False, False))
        self.ppo_epochs = check_int("ppo_epochs", ppo_epochs, 1)
        self.entropy_weight = check_real("entropy_weight", entropy_weight, 0)
        self.baseline_decay = check_real(
            "baseline_decay", baseline_decay, 0, 1, closed=(True, False)
        )
        self.temperature = check_real(
            "temperature", temperature, 0, closed=(False, True), allow_none=True
        )
        self.tanh_constant = check_real(
            "tanh_constant", tanh_constant, 0, closed=(False, True), allow_none=True
        )
        self.failed_reward = check_real("failed_reward", failed_reward, allow_none=True)
        self.init_range = check_real("init_range", init_range, 0, closed=(False, True))

        self._seed = None  # the oracle's: seeds the initial weights
        # The decisions of the current space (rebuilt when the space grows).
        self._space_size = -1
        self._walk = []  # (hp, decision index or None), in space order
        self._decisions = []
        self._num_columns = 0
        self._signature = None
        # Learning state: all of it goes to `controller.npz`, atomically.
        self._params = None  # Keras weight order: embedding, LSTM(s), dense
        self._opt_state = None  # Adam's variables, in `optimizer.variables` order
        self._baseline = None
        self._consumed = 0  # policy-drawn finished trials already used
        self._num_updates = 0
        self._dirty = False
        self._cache = None  # numpy views of `_params` for sampling
        self._proposal = None  # (values, log_prob) of the last proposal

    # ------------------------------------------------------------- the space

    def _sync_space(self, oracle):
        self._seed = int(oracle.seed)
        space = oracle.hyperparameters.space
        if len(space) == self._space_size:
            return
        self._space_size = len(space)
        walk, decisions, offset = [], [], 0
        for hp in space:
            choices = oracle.candidate_values(hp)
            if choices is None:
                # Continuous: keras-tuner's own 10 evenly spaced values (in
                # the hyperparameter's sampling scale).
                choices = sorted(set(hp.values))
            if len(choices) <= 1:
                walk.append((hp, None))
                continue
            walk.append((hp, len(decisions)))
            decisions.append(_Decision(hp, choices, offset))
            offset += len(choices)
        signature = json.dumps(
            [[d.name, [repr(c) for c in d.choices]] for d in decisions]
        )
        self._walk, self._decisions = walk, decisions
        self._num_columns = offset
        if signature != self._signature:
            # A new space (in practice: the first one) starts a new policy.
            self._signature = signature
            self._params = None
            self._opt_state = None
            self._cache = None

    @property
    def num_columns(self):
        return self._num_columns

    @property
    def num_tokens(self):
        # start token, one per column, one for a skipped step.
        return self.num_columns + 2

    @property
    def _skip(self):
        return self.num_columns + 1

    def _step_mask(self):
        mask = np.zeros((len(self._decisions), self.num_columns), "float32")
        for t, d in enumerate(self._decisions):
            mask[t, d.offset : d.offset + len(d.choices)] = 1.0
        return mask

    # -------------------------------------------------------------- weights

    def _ensure_params(self):
        if self._params is not None:
            return
        rng = np.random.default_rng([self._seed, 0x5EED])
        r = self.init_range
        shapes = [(self.num_tokens, self.units)]
        for _ in range(self.num_layers):
            shapes += [
                (self.units, 4 * self.units),
                (self.units, 4 * self.units),
                (4 * self.units,),
            ]
        shapes += [(self.units, self.num_columns), (self.num_columns,)]
        self._params = [rng.uniform(-r, r, s).astype("float32") for s in shapes]
        self._opt_state = None  # a fresh Adam, taken from the shared model
        self._cache = None

    def _weights(self):
        if self._cache is None:
            p, u = self._params, self.units
            # Keras orders the gates input, forget, cell, output; regroup the
            # columns as (input, forget, output | cell) so that one sigmoid
            # and one tanh serve a step.
            order = np.concatenate(
                [np.arange(0, 2 * u), np.arange(3 * u, 4 * u), np.arange(2 * u, 3 * u)]
            )
            layers = []
            for i in range(self.num_layers):
                kernel, recurrent, bias = p[1 + 3 * i : 4 + 3 * i]
                layers.append((kernel[:, order], recurrent[:, order], bias[order]))
            dense_w, dense_b = p[-2], p[-1]
            self._cache = {
                # Embedding and first kernel folded: one row per token.
                "x0": _matmul(p[0], layers[0][0]) + layers[0][2],
                "layers": layers,
                "heads": [
                    (
                        np.ascontiguousarray(
                            dense_w[:, d.offset : d.offset + len(d.choices)]
                        ),
                        dense_b[d.offset : d.offset + len(d.choices)],
                    )
                    for d in self._decisions
                ],
            }
        return self._cache

    def _transform(self, logits, xp):
        return _transform(logits, self.temperature, self.tanh_constant, xp)

    def _lstm_step(self, tokens, state, w):
        """One step for input tokens (a batch, or one token); returns the top
        layer's `h` and the new state."""
        x = None
        u = self.units
        new_state = []
        for i, (kernel, recurrent, bias) in enumerate(w["layers"]):
            h, c = state[i]
            if i == 0:
                z = w["x0"][tokens] + _matmul(h, recurrent)
            else:
                z = _matmul(x, kernel) + _matmul(h, recurrent) + bias
            gates = _sigmoid(z[..., : 3 * u])
            c = gates[..., u : 2 * u] * c + gates[..., :u] * np.tanh(z[..., 3 * u :])
            h = gates[..., 2 * u :] * np.tanh(c)
            new_state.append((h, c))
            x = h
        return x, new_state

    def _zero_state(self, batch=None):
        shape = (self.units,) if batch is None else (batch, self.units)
        zeros = np.zeros(shape, "float32")
        return [(zeros, zeros) for _ in range(self.num_layers)]

    # ------------------------------------------------------------- proposals

    def propose(self, oracle, rng):
        """Samples trials' values from the policy; returns the first that the
        oracle has not tried and that is within the oracle's before-build
        budgets, else the first sampled (the oracle then falls back to a
        random sample, which the policy does not learn from). Under a budget
        the policy is thus sampled conditioned on feasibility; it learns
        nothing from the children it drew over budget.

        One sequence first; if it repeats a trial (a trained policy often
        does), `SAMPLES_PER_PROPOSAL` more in one batched pass, which costs
        about twice one sequence: at most 9 sequences per trial.
        """
        self._sync_space(oracle)
        self._proposal = None
        if not self._decisions:
            return oracle.random_values(rng)
        first = None
        for num in (1, SAMPLES_PER_PROPOSAL):
            samples, log_probs = self._sample(oracle, rng, num)
            for values, log_prob in zip(samples, log_probs, strict=True):
                if not oracle.is_duplicate(values) and oracle.is_feasible(values):
                    self._proposal = (values, float(log_prob))
                    return values
                if first is None:
                    first = values
        return first

    def on_trial_begin(self, oracle, trial_id, values):
        """Notes the log-probability the policy gave the trial when it drew
        it, and how many updates the policy had then."""
        if self._proposal is None or self._proposal[0] is not values:
            return None
        note = {"log_prob": self._proposal[1], "policy": self._num_updates}
        self._proposal = None
        return note

    def sample(self, oracle, rng, num):
        """Samples `num` values dicts from the policy (inverse-CDF draws, one
        uniform per decision and sample, so results do not depend on the
        internals of numpy's `Generator.choice`)."""
        return self._sample(oracle, rng, num)[0]

    def _sample(self, oracle, rng, num):
        """`sample`'s values, and the log-probability of each under the
        policy that drew it."""
        self._sync_space(oracle)
        self._ensure_params()
        w = self._weights()
        state = self._zero_state(num)
        tokens = np.full(num, _START)
        values = [{} for _ in range(num)]
        total = np.zeros(num)
        skip = self._skip
        rows = np.arange(num)
        for hp, t in self._walk:
            # None: every sample is active (the common, unconditional case).
            active = None
            if hp.conditions:
                active = [all(c.is_active(v) for c in hp.conditions) for v in values]
            if t is None:
                for i, v in enumerate(values):
                    if active is None or active[i]:
                        v[hp.name] = oracle.sample_value(hp, rng)
                continue
            h, state = self._lstm_step(tokens, state, w)
            head_w, head_b = w["heads"][t]
            logits = self._transform(_matmul(h, head_w) + head_b, np)
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            cdf = np.cumsum(probs, -1)
            draws = rng.random(num)[:, None] * cdf[:, -1:]
            picks = np.minimum((cdf < draws).sum(-1), cdf.shape[1] - 1)
            choices = self._decisions[t].choices
            tokens = picks + (self._decisions[t].offset + 1)
            step_logp = _log_softmax(logits)[rows, picks]
            for i, k in enumerate(picks.tolist()):
                if active is None or active[i]:
                    values[i][hp.name] = choices[k]
            if active is not None:
                tokens = np.where(active, tokens, skip)
                step_logp = np.where(active, step_logp, 0.0)
            total += step_logp
        return values, total

    def log_probs(self, oracle, trials_values):
        """Log-probability of each values dict under the current policy."""
        self._sync_space(oracle)
        self._ensure_params()
        tokens, actions, mask = self._teacher_forcing(trials_values)
        w = self._weights()
        state = self._zero_state(tokens.shape[0])
        total = np.zeros(tokens.shape[0])
        rows = np.arange(tokens.shape[0])
        for t, d in enumerate(self._decisions):
            h, state = self._lstm_step(tokens[:, t], state, w)
            head_w, head_b = w["heads"][t]
            logp = _log_softmax(self._transform(_matmul(h, head_w) + head_b, np))
            total += logp[rows, actions[:, t] - d.offset] * mask[:, t]
        return total

    def _teacher_forcing(self, trials_values):
        """Inputs, sampled columns and step mask of known sequences."""
        n, steps = len(trials_values), len(self._decisions)
        tokens = np.full((n, steps), _START, "int32")
        actions = np.zeros((n, steps), "int32")
        mask = np.zeros((n, steps), "float32")
        for b, values in enumerate(trials_values):
            for hp, t in self._walk:
                if t is None:
                    continue
                d = self._decisions[t]
                k = None
                if hp.name in values and all(
                    c.is_active(values) for c in hp.conditions
                ):
                    k = d.index(values[hp.name])
                # A skipped step keeps a column of its own decision, masked.
                actions[b, t] = d.offset + (0 if k is None else k)
                if k is not None:
                    mask[b, t] = 1.0
                if t + 1 < steps:
                    tokens[b, t + 1] = self._skip if k is None else d.offset + k + 1
        return tokens, actions, mask

    # ---------------------------------------------------------------- updates

    def on_trial_end(self, oracle):
        """Updates the policy once per `batch_size` newly finished trials
        that it drew (in the order they ended).

        Returns:
            Whether the learning state changed (and must be saved).
        """
        self._sync_space(oracle)
        if not self._decisions:
            return False
        finished = [
            trial
            for trial in oracle.finished_trials(
                include_failed=self.failed_reward is not None
            )
            if "log_prob" in (oracle.trial_note(trial.trial_id) or {})
        ]
        changed = False
        while len(finished) - self._consumed >= self.batch_size:
            batch = finished[self._consumed : self._consumed + self.batch_size]
            self._update(oracle, batch)
            self._consumed += self.batch_size
            changed = True
        self._dirty = self._dirty or changed
        return changed

    def _update(self, oracle, batch):
        self._ensure_params()
        rewards = np.array(
            [
                oracle.reward(t) if t.status == "COMPLETED" else self.failed_reward
                for t in batch
            ],
            "float64",
        )
        if self._baseline is None:
            # The paper does not say how the baseline starts; the first
            # minibatch's mean avoids a long warm-up from 0.
            self._baseline = float(rewards.mean())
        # Every trial of a minibatch is judged against the baseline from
        # before it: they were sampled by the same policy.
        advantages = rewards - self._baseline
        for r in rewards:
            self._baseline = (
                self.baseline_decay * self._baseline + (1 - self.baseline_decay) * r
            )
        values = [t.hyperparameters.values for t in batch]
        tokens, actions, mask = self._teacher_forcing(values)
        # PPO's old policy is the one that drew each trial: with several
        # workers, a trial drawn before the last update was drawn by an
        # older policy than the current one, and the ratio corrects for it.
        old_logp = np.array(
            [oracle.trial_note(t.trial_id)["log_prob"] for t in batch], "float64"
        )
        steps = tokens.shape[1]
        y = np.zeros((len(batch), steps, 4), "float32")
        y[..., 0] = actions
        y[..., 1] = mask
        y[..., 2] = advantages[:, None]
        y[..., 3] = old_logp[:, None]
        epochs = self.ppo_epochs if self.update == PPO else 1
        self._params, self._opt_state = _train(self, tokens, y, epochs)
        self._cache = None
        self._num_updates += 1

    # ------------------------------------------------------------ persistence

    # The learning state (weights, Adam, baseline, progress) changes
    # together, so it lives together in `controller.npz`, replaced
    # atomically; oracle.json carries the configuration (`get_config`).

    def save_files(self, project_dir):
        if not self._dirty or self._params is None:
            return
        arrays = {f"param_{i}": p for i, p in enumerate(self._params)}
        arrays.update({f"opt_{i}": v for i, v in enumerate(self._opt_state or [])})
        arrays["meta"] = np.array(
            json.dumps(
                {
                    "signature": self._signature,
                    "num_params": len(self._params),
                    "num_opt": len(self._opt_state or []),
                    "baseline": self._baseline,
                    "consumed": self._consumed,
                    "num_updates": self._num_updates,
                }
            )
        )
        path = os.path.join(project_dir, WEIGHTS_FILE)
        with _atomic.replace_on_success(path, "wb") as f:
            np.savez(f, **arrays)
        self._dirty = False

    def load_files(self, project_dir):
        path = os.path.join(project_dir, WEIGHTS_FILE)
        if not os.path.exists(path):
            return
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            self._signature = meta["signature"]
            self._params = [data[f"param_{i}"] for i in range(meta["num_params"])]
            self._opt_state = [data[f"opt_{i}"] for i in range(meta["num_opt"])] or None
        self._baseline = meta["baseline"]
        self._consumed = meta["consumed"]
        self._num_updates = meta["num_updates"]
        # The decisions are rebuilt from the space on first use; a different
        # space (another signature) resets the policy there.
        self._space_size = -1
        self._cache = None
        self._dirty = False

    @property
    def num_updates(self):
        return self._num_updates

    @property
    def baseline(self):
        return self._baseline


def _transform(logits, temperature, tanh_constant, xp):
    # ENAS's squashing; `xp` is numpy or keras.ops.
    if temperature is not None:
        logits = logits / temperature
    if tanh_constant is not None:
        logits = tanh_constant * xp.tanh(logits)
    return logits


def _matmul(a, b):
    # Not `a @ b`: these products are tiny, and a multithreaded BLAS on a
    # busy machine was measured 80x slower on them than einsum's own loop.
    if a.ndim == 1:
        return np.einsum("i,ij->j", a, b)
    return np.einsum("bi,ij->bj", a, b)


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


# ---------------------------------------------------------------- Keras side
# Keras is imported here only, so that choosing the strategy (its options,
# a search's settings) imports no backend.

# (architecture, loss config) -> compiled Keras model. One per process: a
# first `train_on_batch` traces for about a second, later ones take
# milliseconds, and oracles with the same space share the trace.
_SHARED_MODELS = {}
# Serializes load-train-read on a shared model (several oracles, threads).
_SHARED_LOCK = threading.Lock()


def _model_key(strategy):
    import keras

    return (
        keras.backend.backend(),
        strategy._signature,
        strategy.units,
        strategy.num_layers,
        strategy.learning_rate,
        strategy.update,
        strategy.ppo_clip,
        strategy.entropy_weight,
        strategy.temperature,
        strategy.tanh_constant,
    )


def _make_loss(strategy, step_mask):
    from keras import ops

    num_columns = step_mask.shape[1]
    neg = ((1.0 - step_mask) * _NEG).astype("float32")
    update, clip = strategy.update, strategy.ppo_clip
    entropy_weight = strategy.entropy_weight
    temperature, tanh_constant = strategy.temperature, strategy.tanh_constant

    def controller_loss(y_true, y_pred):
        logits = _transform(y_pred, temperature, tanh_constant, ops) + neg
        logp_all = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
        action = ops.cast(y_true[..., 0], "int32")
        step_mask = y_true[..., 1]
        advantage = y_true[:, 0, 2]
        old_logp = y_true[:, 0, 3]
        logp = ops.sum(ops.one_hot(action, num_columns) * logp_all, axis=-1)
        seq_logp = ops.sum(logp * step_mask, axis=-1)
        probs = ops.exp(logp_all)
        entropy = -ops.sum(ops.sum(probs * logp_all, axis=-1) * step_mask, axis=-1)
        if update == PPO:
            # The architecture is one action: the ratio is over the sequence.
            ratio = ops.exp(seq_logp - old_logp)
            objective = ops.minimum(
                ratio * advantage, ops.clip(ratio, 1 - clip, 1 + clip) * advantage
            )
        else:
            objective = seq_logp * advantage
        return -(objective + entropy_weight * entropy)

    return controller_loss


def _shared_model(strategy):
    import keras

    key = _model_key(strategy)
    entry = _SHARED_MODELS.get(key)
    if entry is None:
        steps, columns = len(strategy._decisions), strategy.num_columns
        tokens = keras.Input((steps,), dtype="int32", name="previous_choice")
        x = keras.layers.Embedding(strategy.num_tokens, strategy.units)(tokens)
        for _ in range(strategy.num_layers):
            # The paper initializes every weight uniformly (set from numpy);
            # no unit forget bias.
            x = keras.layers.LSTM(
                strategy.units, return_sequences=True, unit_forget_bias=False
            )(x)
        logits = keras.layers.Dense(columns, name="choice_logits")(x)
        model = keras.Model(tokens, logits, name="nas_controller")
        model.compile(
            optimizer=keras.optimizers.Adam(strategy.learning_rate),
            loss=_make_loss(strategy, strategy._step_mask()),
        )
        model.optimizer.build(model.trainable_variables)
        fresh = [np.array(v.numpy()) for v in model.optimizer.variables]
        entry = (model, fresh)
        _SHARED_MODELS[key] = entry
    return entry


def _train(strategy, tokens, y, epochs):
    """Loads the strategy's state into the shared model, takes `epochs`
    gradient steps on one minibatch, returns the new (params, opt_state)."""
    with _SHARED_LOCK:
        model, fresh_opt = _shared_model(strategy)
        model.set_weights(strategy._params)
        opt_state = fresh_opt if strategy._opt_state is None else strategy._opt_state
        for variable, value in zip(model.optimizer.variables, opt_state, strict=True):
            variable.assign(value)
        for _ in range(epochs):
            model.train_on_batch(tokens, y)
        params = [np.array(w) for w in model.get_weights()]
        opt_state = [np.array(v.numpy()) for v in model.optimizer.variables]
    return params, opt_state
