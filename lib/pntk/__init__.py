"""pntk: neural tangent kernels of polynomial nets (nets with Hadamard products).

The engine of the PNTK Book, after Wu, Zhu, Liu, Chrysos and Cevher,
*Extrapolation and Spectral Bias of Neural Nets with Hadamard Product: a
Polynomial Net Study* (NeurIPS 2022).

Modules: :mod:`pntk.models` (finite-width nets: polynomial nets and the deep ReLU
baselines ``relu_mlp``), :mod:`pntk.kernels` (their exact kernels, and the empirical
NTK), :mod:`pntk.training` (gradient descent, linearised dynamics, kernel regression), :mod:`pntk.spectra` (Funk-Hecke and Gram spectra),
:mod:`pntk.blocked` (Gram matrices in tiles, for large n),
:mod:`pntk.data` (inputs, targets, metrics), :mod:`pntk.plotting` (figure style),
:mod:`pntk.reference` (the same models in neural-tangents, independent oracles),
:mod:`pntk.widgets` (the interactive explorers of Part II, live and static),
:mod:`pntk.hadamard_nets` (the NCP, NCP-Skip and modulated nets of Part III, and their kernels).

Importing ``pntk`` switches JAX to 64-bit floats (``jax_enable_x64``): the
exact kernels are compared with their estimates to round-off, which float32
cannot resolve. Pass float32 arrays explicitly to compute in single precision.
"""

import jax

jax.config.update("jax_enable_x64", True)

from . import blocked, data, hadamard_nets, kernels, models, plotting, spectra, training, widgets  # noqa: E402

__version__ = "0.1.0"
__all__ = ["blocked", "data", "hadamard_nets", "kernels", "models", "plotting", "spectra", "training", "widgets", "__version__"]
