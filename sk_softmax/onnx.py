"""ONNX export of :class:`~sk_softmax.SoftmaxGDClassifier` through skl2onnx.

Importing this module registers a converter with skl2onnx, after which
``skl2onnx.to_onnx`` converts a fitted ``SoftmaxGDClassifier`` (alone or inside
a pipeline) like any scikit-learn classifier::

    import sk_softmax.onnx  # noqa: F401  (registers the converter)
    from skl2onnx import to_onnx

    onx = to_onnx(clf, X[:1].astype(np.float32))
    onx = to_onnx(clf, X[:1].astype(np.float32), options={"zipmap": False})

It needs the ``onnx`` extra (``pip install ".[onnx]"``: skl2onnx, onnx and
onnxruntime), which is why ``import sk_softmax`` does not import it.

The graph computes what ``predict`` and ``predict_proba`` compute. With
``K > 2`` classes the logits are ``Z = X @ coef_.T + intercept_``, the
probabilities ``softmax(Z)`` and the label ``classes_[argmax(Z)]``. With two
classes ``coef_`` has one row and the decision is ``z = X @ coef_.T +
intercept_``; the probabilities are ``[1 - sigmoid(z), sigmoid(z)]``, computed
as the softmax of ``[-z / 2, z / 2]``. (skl2onnx's generic linear-classifier
converter, registered for this class, gives ``sigmoid(2 z)``: it takes the
softmax of ``[-z, z]``; checked with skl2onnx 1.20.)

Options: ``zipmap`` (``True``, the default, gives the probabilities as a list
of ``{label: probability}`` dictionaries; ``False`` as a tensor of shape
``(n_samples, n_classes)``; ``"columns"`` as one output per class).
``nocl=True`` outputs class indices instead of the labels. Labels may be
integers (exported as int64; booleans as 0 and 1) or strings.
"""

import numpy as np
from skl2onnx import update_registered_converter
from skl2onnx.algebra.onnx_ops import (
    OnnxAdd,
    OnnxArgMax,
    OnnxGather,
    OnnxIdentity,
    OnnxMatMul,
    OnnxSoftmax,
)
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
    guess_numpy_type,
)
from skl2onnx.common.utils import (
    check_input_and_output_numbers,
    check_input_and_output_types,
)

from ._classifier import SoftmaxGDClassifier

__all__ = ["ALIAS", "convert_softmax_gd", "softmax_gd_shape_calculator"]

#: The name under which the converter is registered with skl2onnx.
ALIAS = "SkSoftmaxSoftmaxGDClassifier"


def _onnx_classes(classes):
    """``classes_`` as ONNX can carry them: int64 or strings.

    Raises ``NotImplementedError`` for labels that are neither integers (or
    integer-valued floats, or booleans) nor strings.
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f" and np.all(classes == np.round(classes)):
        return classes.astype(np.int64)
    if classes.dtype.kind in "US" or all(isinstance(c, str) for c in classes):
        return np.array([str(c) for c in classes], dtype=object)
    raise NotImplementedError(
        "ONNX export supports integer or string class labels, not "
        f"{classes.dtype} labels {classes[:3].tolist()}..."
    )


def _labels(model, options):
    """The labels the graph outputs: ``classes_``, or their indices with the
    option ``nocl`` (as skl2onnx's own classifiers do)."""
    if options["nocl"]:
        return np.arange(len(model.classes_), dtype=np.int64)
    return _onnx_classes(model.classes_)


def _softmax_parameters(model, dtype):
    """The softmax weights ``(W, b)``, shapes ``(K, d)`` and ``(K,)``, whose
    softmax(X W^T + b) is ``model.predict_proba``.

    For two classes ``coef_`` is ``W[1] - W[0]``; ``W = [-coef_ / 2, coef_ / 2]``
    has the same logit difference, so its softmax is
    ``[1 - sigmoid(z), sigmoid(z)]`` with ``z`` the decision function.
    """
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64).reshape(-1)
    if intercept.shape[0] != coef.shape[0]:  # a scalar intercept
        intercept = np.broadcast_to(intercept, (coef.shape[0],))
    if len(model.classes_) == 2:
        coef = np.concatenate([-0.5 * coef, 0.5 * coef], axis=0)
        intercept = np.concatenate([-0.5 * intercept, 0.5 * intercept])
    return coef.astype(dtype), intercept.astype(dtype)


def softmax_gd_shape_calculator(operator):
    """Types and shapes of the two outputs: the label, shape ``(N,)``, int64 or
    string like ``classes_``, and the probabilities, ``(N, K)``, in the input's
    float type."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType]
    )
    model = operator.raw_operator
    n_rows = operator.inputs[0].get_first_dimension()
    classes = _labels(model, operator.scope_inst.get_options(model, {"nocl": False}))
    if classes.dtype == object:
        operator.outputs[0].type = StringTensorType(shape=[n_rows])
    else:
        operator.outputs[0].type = Int64TensorType(shape=[n_rows])
    proba_type = operator.inputs[0].type.__class__
    operator.outputs[1].type = proba_type(shape=[n_rows, len(classes)])


def convert_softmax_gd(scope, operator, container):
    """ONNX nodes for ``predict`` and ``predict_proba``: ``Z = X W^T + b``,
    ``softmax(Z)`` and ``classes_[argmax(Z)]``."""
    model = operator.raw_operator
    opv = container.target_opset
    X = operator.inputs[0]
    dtype = guess_numpy_type(X.type)
    if dtype not in (np.float32, np.float64):
        dtype = np.float32
    W, b = _softmax_parameters(model, dtype)
    classes = _labels(model, container.get_options(model, {"nocl": False}))

    Z = OnnxAdd(OnnxMatMul(X, W.T.copy(), op_version=opv), b, op_version=opv)
    proba = OnnxSoftmax(Z, axis=1, op_version=opv)
    OnnxIdentity(proba, op_version=opv, output_names=[operator.outputs[1]]).add_to(
        scope, container
    )
    # argmax takes the first maximum, as numpy's does: with two classes and
    # z == 0 the label is classes_[0], as predict's (z > 0) gives.
    index = OnnxArgMax(Z, axis=1, keepdims=0, op_version=opv)
    OnnxGather(
        classes, index, axis=0, op_version=opv, output_names=[operator.outputs[0]]
    ).add_to(scope, container)


def _register():
    update_registered_converter(
        SoftmaxGDClassifier,
        ALIAS,
        softmax_gd_shape_calculator,
        convert_softmax_gd,
        options={"zipmap": [True, False, "columns"], "nocl": [False, True]},
    )


_register()
