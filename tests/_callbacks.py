"""A base for the tests' callbacks: scikit-learn's callback protocol with
hooks that do nothing, so that a test's callback writes only the hooks it
tests (most often ``on_fit_task_end``)."""


class TaskEndCallback:
    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        return False
