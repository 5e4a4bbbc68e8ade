"""Classifiers as courses write them: an MLP with DataLoader/Adam/StepLR, and CNNs with
BatchNorm, Dropout, pooling and train/eval switching."""

# Tutorial code as people write it: unused loop variables, super(Cls, self), type(m) == ...
# ruff: noqa: B007, E721, F841, UP008, UP032

from .harness import run_both


def _blobs(torch, n=240, classes=3, dim=8):
    centers = torch.randn(classes, dim) * 3
    y = torch.randint(0, classes, (n,))
    X = centers[y] + torch.randn(n, dim)
    return X, y


def mlp_classifier(torch):
    nn = torch.nn
    from_data = torch.utils.data
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    X, y = _blobs(torch)
    train = from_data.TensorDataset(X[:200], y[:200])
    test = from_data.TensorDataset(X[200:], y[200:])
    train_loader = from_data.DataLoader(train, batch_size=32, shuffle=True)
    test_loader = from_data.DataLoader(test, batch_size=64)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 32),
                          nn.Tanh(), nn.Linear(32, 3)).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    log = []
    for epoch in range(4):
        model.train()
        total, correct, loss_sum = 0, 0, 0.0
        for inputs, labels in train_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item()
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            accs = [(model(xb).argmax(dim=1) == yb).float().mean().item()
                    for xb, yb in test_loader]
        log.append(f"epoch {epoch}: loss {loss_sum / len(train_loader):.4f} "
                   f"train acc {100 * correct / total:.1f}% lr {scheduler.get_last_lr()[0]:.4g}")
        log.append(sum(accs) / len(accs))
    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"log": log, "n_params": n_params, "n_train": n_train, "print": str(model),
            "names": [n for n, _ in model.named_parameters()],
            "lr": optimizer.param_groups[0]["lr"], "last": loss.item()}


def test_mlp_classifier():
    run_both(mlp_classifier)


def _net_class(torch):
    nn = torch.nn
    F = torch.nn.functional

    class Net(nn.Module):
        def __init__(self, num_classes=10):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
            self.bn1 = nn.BatchNorm2d(8)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(16)
            self.dropout = nn.Dropout(0.25)
            self.fc1 = nn.Linear(16 * 3 * 3, 32)
            self.fc2 = nn.Linear(32, num_classes)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
            x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), (2, 2))
            x = F.adaptive_avg_pool2d(x, (3, 3))
            x = x.view(x.size(0), -1)
            x = self.dropout(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net


def cnn_classifier(torch):
    F = torch.nn.functional
    torch.manual_seed(3)
    Net = _net_class(torch)
    model = Net()
    images = torch.randn(64, 1, 12, 12)
    labels = torch.randint(0, 10, (64,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    losses = []
    for step in range(6):
        model.train()
        for i in range(0, 64, 16):
            data, target = images[i:i + 16], labels[i:i + 16]
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        output = model(images)
        test_loss += F.nll_loss(output, labels, reduction="sum").item()
        pred = output.argmax(dim=1, keepdim=True)
        correct += pred.eq(labels.view_as(pred)).sum().item()
    bn = model.bn1
    return {"losses": losses, "test_loss": test_loss, "correct": correct,
            "running_mean": bn.running_mean, "running_var": bn.running_var,
            "num_batches_tracked": bn.num_batches_tracked.item(), "eval_out": output[:4],
            "training": [m.training for m in model.modules()], "print": str(model),
            "grad": model.conv1.weight.grad}


def test_cnn_classifier():
    run_both(cnn_classifier, rtol=3e-4, atol=3e-5)


def cnn_sequential_flatten(torch):
    nn = torch.nn
    F = torch.nn.functional

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, stride=1, padding="same"), nn.BatchNorm2d(8),
                nn.LeakyReLU(0.1, inplace=True), nn.MaxPool2d(2, 2),
                nn.Conv2d(8, 8, 3, groups=2, bias=False), nn.ReLU(inplace=True),
                nn.AvgPool2d(2), nn.Dropout2d(0.1))
            self.classifier = nn.Linear(8 * 1 * 1, 5)

        def forward(self, x):
            x = self.features(x)
            x = torch.flatten(x, 1)
            return self.classifier(x)

    torch.manual_seed(7)
    model = SmallCNN()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    x = torch.randn(10, 3, 9, 9)
    y = torch.randint(0, 5, (10,))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(5):
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = F.cross_entropy(out, y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        losses.append(round(loss.item(), 4))
    model.eval()
    probs = F.softmax(model(x), dim=-1)
    top_p, top_i = probs.topk(2, dim=1)
    return {"losses": losses, "top_p": top_p, "top_i": top_i, "print": str(model),
            "conv_w": model.features[0].weight, "max1": x.max(1)[1][0, 0]}


def test_cnn_sequential_flatten():
    run_both(cnn_sequential_flatten, rtol=3e-4, atol=3e-5)
