"""One training loop for every chapter (book/conventions.md, "Randomness and devices", "Checkpoints and run folders").

:func:`train` runs Adam on a generator (and optionally a discriminator), logs to ``metrics.jsonl``,
checkpoints to ``last.safetensors`` and resumes from it so that a run that is killed and restarted ends
with exactly the same weights as an uninterrupted one (on CPU; on CUDA up to the non-determinism of the
kernels). What makes resume exact:

* the batch of update ``t`` (``t = 0, 1, ...``) is a pure function of ``(seed, t)``: sample positions
  ``t*B .. t*B+B-1`` of the stream of epoch permutations ``np.random.default_rng([seed, epoch])
  .permutation(len(dataset))``, and the mask of batch element ``i`` is ``mask_fn(h, w,
  np.random.default_rng([seed, t, i]))`` - so the dataset must return the same image for the same index;
* the checkpoint holds the model, optimizer(s), scheduler, gradient scaler(s), the torch CPU/CUDA RNG
  state of every rank (dropout etc. continue where they were) and the partly filled log accumulators;
* evaluations run under ``torch.random.fork_rng`` and only scheduled evaluations drive the scheduler, so
  an extra evaluation at the end of a shorter call does not change the training.

Contracts of the callables (images float ``N x 3 x H x W`` in [0, 1], ``valid`` ``N x 1 x H x W``,
1 = known, 0 = hole, both on the training device):

* ``loss_fn(model, image, valid) -> (loss, terms)``: ``loss`` a scalar tensor to minimise, ``terms`` a
  dict ``name -> float | scalar tensor`` to log (same names every step). Under DDP ``model`` is the
  ``DistributedDataParallel`` wrapper: call it (``model(image, valid)``) once per step, do not read its
  attributes.
* ``d_loss_fn(model, discriminator, image, valid) -> (d_loss, terms)``: the discriminator step, run
  before each generator step with its own Adam (``d_lr``, ``d_betas``). ``model`` is the plain generator
  (compute its output under ``torch.no_grad()`` or ``.detach()`` it). During the generator step the
  discriminator's parameters have ``requires_grad=False``; a ``loss_fn`` that needs the discriminator
  closes over it.
* ``mask_fn(h, w, rng) -> np.ndarray`` float32 ``(h, w)``, values exactly 0/1, 1 = known (the
  generators of ``inpaintlib.masks``); anything else raises ``ValueError``. A mask source with an attribute
  ``masks_per_image = k > 1`` returns ``(k, h, w)``, the ``k`` masks of one image: each image of the batch then
  appears ``k`` times in a row, once under each of its masks, and ``batch_size`` still counts masked images
  (:mod:`.batches`; DeepGIN's Sect. 5.1 batches of 4 images x 3 mask types).
* ``eval_fn(model) -> dict[str, float]``: called on rank 0 with the plain model in eval mode under
  ``torch.no_grad()``; e.g. ``{"psnr": ...}`` on a fixed test set.

Distributed: launched by ``torchrun`` (``WORLD_SIZE > 1``), :func:`train` initialises the process group
(gloo on CPU, nccl on CUDA) unless it already is, wraps the generator in ``DistributedDataParallel`` and
averages the discriminator's gradients itself (a discriminator loss may call its parts or differentiate it for a
gradient penalty, which DDP's wrapper does not support); each
rank takes its contiguous shard ``B / world_size`` of the step's batch (so the averaged gradient is the
gradient of the full batch), only rank 0 writes logs and checkpoints, and all ranks wait at a barrier
after each checkpoint. All ranks must see the same ``out_dir`` (one machine or a shared file system). The
process group stays up for the process's later :func:`train` calls (a chapter's second stage) and is destroyed at
exit. BatchNorm layers are not converted to SyncBatchNorm: each rank normalises over its own shard (PyTorch's
SyncBatchNorm runs on GPUs only), so a network with BatchNorm (MSFEF's) trains under DDP like one process only up
to those statistics.

Modules: :mod:`.config` (:class:`TrainConfig`), :mod:`.loop` (:func:`train`), :mod:`.steps` (optimisers,
discriminator and generator steps), :mod:`.batches` (which images and masks each update sees),
:mod:`.checkpoint` (training state and model files), :mod:`.history` (the log, :class:`History`),
:mod:`.running` (running means of the logged terms), :mod:`.distributed` (:func:`choose_device`, torchrun).
"""
from .checkpoint import LAST_NAME, MODEL_NAME
from .config import TrainConfig, demo_schedule, recipe_at_scale
from .distributed import choose_device
from .history import LOG_NAME, History
from .loop import train

__all__ = ["TrainConfig", "demo_schedule", "recipe_at_scale", "History", "train", "choose_device", "LOG_NAME", "LAST_NAME", "MODEL_NAME"]
