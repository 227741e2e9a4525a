"""The one mask convention (1 = known, 0 = hole) is checked with errors that name the problem."""
import functools

import pytest
import torch

from inpaintlib._validate import check_image, check_valid


BOX = (2, 5, 3, 6)  # hole rows 2-4, columns 3-5


def test_a_well_formed_mask_passes_unchanged(make_valid, make_images):
    v = make_valid(2, 8, 8, BOX)
    assert check_valid(v, make_images(2, 8, 8)) is v


@pytest.mark.parametrize(
    "mask, words",
    [
        (torch.ones(2, 8, 8), "shape"),  # missing channel axis
        (torch.ones(2, 3, 8, 8), "shape"),  # an RGB mask
        (torch.ones(2, 1, 8, 8, dtype=torch.bool), "dtype"),
        (torch.ones(2, 1, 8, 8, dtype=torch.uint8), "dtype"),
        (torch.full((2, 1, 8, 8), 0.5), "binary"),
        (torch.ones(0, 1, 8, 8), "empty"),
        ([[1.0]], "torch.Tensor"),
    ],
)
def test_malformed_masks_raise_value_error_naming_the_problem(mask, words):
    with pytest.raises(ValueError, match=words):
        check_valid(mask)


def test_error_message_states_the_expected_convention():
    with pytest.raises(ValueError, match="1 = known pixel, 0 = hole"):
        check_valid(torch.full((1, 1, 4, 4), 0.5))


def test_mask_of_the_wrong_size_for_the_image_is_rejected(make_valid, make_images):
    with pytest.raises(ValueError, match="spatial size"):
        check_valid(make_valid(2, 8, 8, BOX), make_images(2, 8, 9))
    with pytest.raises(ValueError, match="batch size"):
        check_valid(make_valid(2, 8, 8, BOX), make_images(3, 8, 8))


def test_empty_and_all_hole_masks_are_rejected_where_they_make_no_sense(make_valid):
    no_hole = make_valid(1, 4, 4, boxes=())
    all_hole = make_valid(1, 4, 4, (0, 4, 0, 4))
    check_valid(no_hole)  # allowed by default (e.g. inside a network)
    check_valid(all_hole)
    with pytest.raises(ValueError, match="no hole"):
        check_valid(no_hole, require_hole=True)
    with pytest.raises(ValueError, match="all-hole"):
        check_valid(all_hole, require_known=True)


@pytest.mark.parametrize(
    "image, words",
    [
        (torch.rand(3, 8, 8), "4 dimensions"),
        (torch.randint(0, 255, (1, 3, 8, 8)), "floating-point"),
        (torch.rand(1, 3, 8, 8) * 255, r"\[0, 1\]"),
    ],
)
def test_bad_images_raise_value_error(image, words):
    with pytest.raises(ValueError, match=words):
        check_image(image)


def test_network_input_check_names_channels_and_the_size_multiple():
    from inpaintlib._validate import check_network_input

    valid = torch.ones(1, 1, 16, 24)
    valid[..., 4:8, 4:8] = 0
    out = check_network_input(torch.rand(2, 3, 16, 24), valid, 3, 8)
    assert out.shape == (2, 1, 16, 24) and out.dtype == torch.float32
    with pytest.raises(ValueError, match="3 channels"):
        check_network_input(torch.rand(1, 4, 16, 24), valid, 3, 8)
    with pytest.raises(ValueError, match="multiples of 16 = 2\\*\\*depth.*16x24"):
        check_network_input(torch.rand(1, 3, 16, 24), valid, 3, 16, " = 2**depth (4 stride-2 stages)")


@functools.lru_cache(maxsize=None)
def _ci_network(paper: str):
    from inpaintlib.registry import paper_model

    spec = paper_model(paper)
    config = spec.config_cls.ci()
    return spec.network_cls(config).eval(), spec.size_multiple(config)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16], ids=str)
@pytest.mark.parametrize("paper", ["ctxattn", "deepgin", "msanet", "msfef", "pmrfn"])
def test_every_network_names_an_input_dtype_other_than_its_parameters_and_the_fix(paper, dtype):
    net, multiple = _ci_network(paper)
    side = max(multiple, 32 // multiple * multiple)
    valid = torch.ones(1, 1, side, side, dtype=dtype)
    valid[..., : side // 2, : side // 2] = 0
    with pytest.raises(ValueError, match=rf"image has dtype {dtype} but the parameters of {type(net).__name__} are "
                                         r"torch.float32: convert the input \(image.float\(\)"):
        net(torch.rand(1, 3, side, side).to(dtype), valid)
