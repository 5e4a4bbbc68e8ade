"""Every cell of the seed tutorial runs under ``import ember as torch`` and prints exactly
what the tutorial shows. (The seed's text is written out here: tests never read it.)"""

import contextlib
import io
import textwrap

import ember


def run_cell(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(textwrap.dedent(code), {"torch": ember, "__name__": "__seed__"})
    return out.getvalue()


CELL_1 = """
tensor = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
print("\\nTensor with requires_grad:\\n", tensor)
result = tensor * 2 + 5
print("\\nResult Tensor after Operations:\\n", result)
result_sum = result.sum()
result_sum.backward()
print("\\nGradient of the Tensor:\\n", tensor.grad)
"""

CELL_1_OUT = """
Tensor with requires_grad:
 tensor([1., 2., 3.], requires_grad=True)

Result Tensor after Operations:
 tensor([ 7.,  9., 11.], grad_fn=<AddBackward0>)

Gradient of the Tensor:
 tensor([2., 2., 2.])
"""

CELL_2 = """
x = torch.tensor([2.0, 3.0], requires_grad=True)
y = torch.tensor([4.0, 5.0], requires_grad=True)
z = x * y  # Element-wise multiplication
out = z.sum()  # Sum of all elements
print("Tensor x:\\n", x)
print("Tensor y:\\n", y)
print("Tensor z (x * y):\\n", z)
print("Sum of z (out):\\n", out)
out.backward()  # Compute gradients
print("Gradient of x:\\n", x.grad)  # Gradient of out with respect to x
print("Gradient of y:\\n", y.grad)  # Gradient of out with respect to y
"""

CELL_2_OUT = """Tensor x:
 tensor([2., 3.], requires_grad=True)
Tensor y:
 tensor([4., 5.], requires_grad=True)
Tensor z (x * y):
 tensor([ 8., 15.], grad_fn=<MulBackward0>)
Sum of z (out):
 tensor(23., grad_fn=<SumBackward0>)
Gradient of x:
 tensor([4., 5.])
Gradient of y:
 tensor([2., 3.])
"""


def test_cell_1_tensor_with_grad():
    assert run_cell(CELL_1) == CELL_1_OUT


def test_cell_2_product_and_sum():
    assert run_cell(CELL_2) == CELL_2_OUT
