"""Generative-model training loops: a conv autoencoder, a VAE, a GAN with two optimizers,
and a WGAN-GP gradient penalty through ``torch.autograd.grad(create_graph=True)``."""

# Tutorial code as people write it: unused loop variables, super(Cls, self), type(m) == ...
# ruff: noqa: B007, E721, F841, UP008, UP032

from .harness import run_both


def conv_autoencoder(torch):
    nn = torch.nn

    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(True),
                nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(True))
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
                nn.ReLU(True),
                nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1))

        def forward(self, x):
            return self.decoder(self.encoder(x))

    torch.manual_seed(4)
    images = (torch.rand(16, 1, 8, 8) > 0.6).float()
    model = AE()
    criterion = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for epoch in range(6):
        for batch in images.split(8):
            recon = model(batch)
            loss = criterion(recon, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        recon = torch.sigmoid(model(images[:2]))
        pos = nn.BCEWithLogitsLoss(pos_weight=torch.full((8,), 2.0))(model(images), images)
    return {"losses": losses, "recon": recon, "pos": pos.item(),
            "shape": list(model.encoder(images).shape),
            "dec_w": model.decoder[0].weight.grad}


def test_conv_autoencoder():
    run_both(conv_autoencoder, rtol=3e-4, atol=3e-5)


def vae(torch):
    nn = torch.nn
    F = torch.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super(VAE, self).__init__()
            self.fc1 = nn.Linear(16, 12)
            self.fc21 = nn.Linear(12, 2)
            self.fc22 = nn.Linear(12, 2)
            self.fc3 = nn.Linear(2, 12)
            self.fc4 = nn.Linear(12, 16)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return mu + eps * std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return torch.sigmoid(self.fc4(h3))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, 16))
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

    def loss_function(recon_x, x, mu, logvar):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, 16), reduction="sum")
        KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return BCE + KLD

    torch.manual_seed(8)
    data = torch.rand(40, 1, 4, 4)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_loss = []
    for epoch in range(3):
        model.train()
        total = 0
        for batch_idx in range(0, 40, 10):
            x = data[batch_idx:batch_idx + 10]
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(x)
            loss = loss_function(recon_batch, x, mu, logvar)
            loss.backward()
            total += loss.item()
            optimizer.step()
        train_loss.append(total / len(data))
    model.eval()
    with torch.no_grad():
        sample = model.decode(torch.randn(4, 2))
        mu, logvar = model.encode(data.view(-1, 16))
    return {"loss": train_loss, "sample": sample, "mu": mu, "logvar": logvar,
            "report": f"====> Average loss: {train_loss[-1]:.4f}"}


def test_vae():
    run_both(vae)


def gan(torch):
    nn = torch.nn
    torch.manual_seed(21)
    nz, batch = 4, 16
    G = nn.Sequential(nn.Linear(nz, 16), nn.LeakyReLU(0.2), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2, inplace=True), nn.Linear(16, 1),
                      nn.Sigmoid())
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optG = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real_data = torch.randn(64, 2) * 0.5 + torch.tensor([2.0, -1.0])
    fixed_noise = torch.randn(8, nz)
    real_label, fake_label = 1.0, 0.0
    history = []
    for epoch in range(2):
        for i, real in enumerate(real_data.chunk(4)):
            D.zero_grad()
            b_size = real.size(0)
            label = torch.full((b_size,), real_label, dtype=torch.float)
            output = D(real).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b_size, nz)
            fake = G(noise)
            label.fill_(fake_label)
            output = D(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            errD = errD_real + errD_fake
            optD.step()
            G.zero_grad()
            label.fill_(real_label)
            output = D(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optG.step()
            history.append([errD.item(), errG.item(), D_x, D_G_z2])
    with torch.no_grad():
        fake = G(fixed_noise).detach().cpu()
    return {"history": history, "fake": fake}


def test_gan():
    run_both(gan, rtol=3e-4, atol=3e-5)


def wgan_gp(torch):
    nn = torch.nn
    torch.manual_seed(13)
    critic = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 16), nn.Softplus(),
                           nn.Linear(16, 1))
    gen = nn.Sequential(nn.Linear(2, 16), nn.ELU(), nn.Linear(16, 3))
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=5e-4)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.0, 0.9))
    real = torch.randn(32, 3)
    lambda_gp = 10
    log = []
    for step in range(4):
        z = torch.randn(32, 2)
        fake = gen(z)
        alpha = torch.rand(real.size(0), 1)
        interpolates = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
        d_interpolates = critic(interpolates)
        gradients = torch.autograd.grad(outputs=d_interpolates, inputs=interpolates,
                                        grad_outputs=torch.ones_like(d_interpolates),
                                        create_graph=True, retain_graph=True,
                                        only_inputs=True)[0]
        gradients = gradients.view(gradients.size(0), -1)
        gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean() * lambda_gp
        loss_c = critic(fake.detach()).mean() - critic(real).mean() + gradient_penalty
        opt_c.zero_grad()
        loss_c.backward()
        grad_norm = torch.sqrt(sum((p.grad ** 2).sum() for p in critic.parameters()))
        opt_c.step()
        for p in critic.parameters():
            p.requires_grad = False
        loss_g = -critic(gen(z)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for p in critic.parameters():
            p.requires_grad = True
        log.append([loss_c.item(), gradient_penalty.item(), loss_g.item(), grad_norm.item()])
    # R1-style penalty: gradient of a sum wrt an input, then its own gradient wrt weights
    x = torch.randn(5, 3, requires_grad=True)
    (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    r1 = g.pow(2).sum()
    w_grad = torch.autograd.grad(r1, critic[0].weight)[0]
    return {"log": log, "r1": r1.item(), "w_grad": w_grad,
            "critic_grad_none": [p.grad is None for p in critic.parameters()]}


def test_wgan_gp():
    run_both(wgan_gp)
