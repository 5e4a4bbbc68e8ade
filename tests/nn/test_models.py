"""Small end-to-end models built the same way in ember and torch, with torch's weights
loaded into ember: the CrossEntropy loss and every parameter gradient agree (float32)."""

import numpy as np
import torch

import ember


def _lenet(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120),
                         nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def _lstm_lm(lib):
    nn = lib.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(50, 16)
            self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
            self.head = nn.Linear(32, 50)

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.head(out).reshape(-1, 50)
    return LM()


def _encoder_classifier(lib):
    nn = lib.nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(40, 32)
            layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0,
                                               batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(32, 5)

        def forward(self, tokens):
            return self.head(self.encoder(self.embed(tokens)).mean(1))
    return Classifier()


def _check(build, inputs, targets, atol=2e-5):
    t_model, e_model = build(torch), build(ember)
    assert list(e_model.state_dict()) == list(t_model.state_dict())
    assert repr(e_model) == repr(t_model)
    e_model.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                             for k, v in t_model.state_dict().items()})
    t_loss = torch.nn.CrossEntropyLoss()(t_model(torch.from_numpy(inputs)),
                                         torch.from_numpy(targets))
    e_loss = ember.nn.CrossEntropyLoss()(e_model(ember.from_numpy(inputs)),
                                         ember.from_numpy(targets))
    np.testing.assert_allclose(e_loss.item(), t_loss.item(), rtol=1e-5)
    t_loss.backward()
    e_loss.backward()
    for (n, p), (_, q) in zip(e_model.named_parameters(), t_model.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=atol, rtol=1e-3,
                                   err_msg=n)


def test_lenet5():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    _check(_lenet, x, rng.integers(0, 10, 8))


def test_lstm_language_model():
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 50, (4, 12))
    _check(_lstm_lm, tokens, rng.integers(0, 50, 4 * 12))


def test_transformer_encoder_classifier():
    rng = np.random.default_rng(2)
    tokens = rng.integers(0, 40, (6, 10))
    _check(_encoder_classifier, tokens, rng.integers(0, 5, 6))
