"""A guided tour of ember, following PyTorch's autograd tutorial."""

import ember as torch


def main() -> None:
    tensor = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    print("\nTensor with requires_grad:\n", tensor)
    result = tensor * 2 + 5
    print("\nResult Tensor after Operations:\n", result)
    result_sum = result.sum()
    result_sum.backward()
    print("\nGradient of the Tensor:\n", tensor.grad)


if __name__ == "__main__":
    main()
