"""Training and test steps traced once, as one function, on TensorFlow.

Keras's TensorFlow trainer runs each step as a `tf.function` that takes the
data iterator and calls a second `tf.function` on the batch it draws: two
functions to trace and to instantiate, each capturing every variable of the
model. For a short search trial, whose time is mostly its first steps, that
was 1.3-2.7 s of the first training step and 0.5-2.1 s of the first
validation (benchmarks/README.md, trial_overhead).

`SingleTraceMixin` traces the batch's function alone, once, for the
iterator's element spec (so the last, partial batch does not trace it
again), and draws each batch from the iterator eagerly. It keeps what Keras's
step does for one replica and one step per execution: `train_step` or
`test_step` on the batch, with the model's `jit_compile`, autograph off, and
the `None`s of the batch (empty `tf.experimental.Optional`s in a dataset)
given back as `None`. Everywhere else it is Keras's: other backends, eager
runs, `steps_per_execution > 1`, and iterators that are not a
`tf.data.Iterator` (a distribution strategy's), which go to Keras's own
function.
"""

import keras


class SingleTraceMixin:
    """A `keras.Model` whose `fit` and `evaluate` trace each step once.

    Put it before `keras.Model` in the bases. See the module's docstring.
    """

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force=True)
        self.train_function = _single_trace(self, self.train_step, self.train_function)
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is not None and not force:
            return self.test_function
        super().make_test_function(force=True)
        self.test_function = _single_trace(self, self.test_step, self.test_function)
        return self.test_function


def _single_trace(model, step, keras_function):
    """`keras_function`'s replacement running `step`, or `keras_function`."""
    if (
        keras.backend.backend() != "tensorflow"
        or model.run_eagerly
        or model.steps_per_execution != 1
    ):
        return keras_function
    import tensorflow as tf

    def one_step(data):
        data = tf.nest.map_structure(
            lambda t: None if isinstance(t, tf.experimental.Optional) else t, data
        )
        # Keras's step runs inside its iterator's function, under that
        # function's name scope; a model's own scope ("_name" for a class
        # `_Name`) may not be a graph's root one.
        with tf.name_scope("step"):
            return model.distribute_strategy.run(step, args=(data,))

    traced = tf.function(
        one_step,
        reduce_retracing=True,
        jit_compile=model.jit_compile,
        autograph=False,
    )

    def function(iterator):
        if not isinstance(iterator, tf.data.Iterator):
            return keras_function(iterator)
        if not traced.experimental_get_tracing_count():
            # Traced for the spec's unknown batch size, which every batch
            # matches, the last one too.
            traced.get_concrete_function(iterator.element_spec)
        # At the end, `next` raises StopIteration, which Keras's loop ends
        # the epoch on, as it does on its own function's.
        return traced(next(iterator))

    function.traced = traced
    return function
