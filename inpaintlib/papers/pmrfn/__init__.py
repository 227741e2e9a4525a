"""PMRFN (Wang et al., ICCV 2021, "Parallel multi-resolution fusion network for image inpainting"): the chapter is
in progress; the network is not written yet.

What exists so far needs no training:

* :mod:`inpaintlib.layers.priority` -- the inpainting priorities and the priority-guided mask update
  (Sect. 4.2.1, Eqs. 5-8), generic layers any partial-convolution network can use;
* :mod:`.figures` -- Fig. 2 (a-d, f-k) and the numbers behind it, the texture measure of the contextual residue,
  and how the hole shrinks stage by stage under the priority update vs the plain partial-convolution update.

The package defines no ``MODEL`` and is not in the registry until the network exists.
"""
