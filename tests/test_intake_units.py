"""Intake's limits at their edges, without a server: header checks, batch totals, decode budget.

Sizes are claimed by PNG headers made here (a 1x1 image whose IHDR says otherwise), so a limit
of 16 million pixels is tested without decoding one: the checks must refuse from the header.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib

import numpy as np
import pytest
from PIL import Image

from regserve_contracts import decoding
from regserve_contracts.decoding import (
    ImageInputError,
    ImageTooLargeError,
    check_size,
    check_total,
    decode_image,
    decode_reduced,
    open_image,
    pixel_limit_text,
    to_png,
)
from server.errors import ApiError
from server.intake import files as intake
from server.settings import ServerSettings


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims ``width`` x ``height`` (its CRC fixed up)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)


def settings(max_image_pixels: int = 4096 * 4096, max_batch_pixels: int = 8 * 4096 * 4096):
    return ServerSettings(max_image_pixels=max_image_pixels, max_batch_pixels=max_batch_pixels)


def test_a_claimed_size_is_read_from_the_header():
    assert open_image(png_claiming(3000, 7)).size == (3000, 7)


def test_the_default_pixel_limit_is_4096_squared_checked_before_decoding():
    assert decode_image(png_claiming(1, 1)).size == (1, 1)
    check_size(4096, 4096)
    with pytest.raises(ImageTooLargeError) as refused:
        decode_image(png_claiming(4096, 4097))
    assert str(refused.value) == ("the image is 4096 x 4097 pixels; at most 4096 x 4096 pixels "
                                  "are accepted")


@pytest.mark.parametrize("width, height", [(100, 20), (20, 100), (2000, 1)])
def test_exactly_the_pixel_limit_passes_and_one_more_is_refused(width, height):
    check_size(width, height, max_pixels=width * height)
    with pytest.raises(ImageTooLargeError, match="at most 2,000 pixels are accepted"):
        check_size(width, height + 1, max_pixels=2000)


def test_exactly_the_longest_side_passes_and_one_more_is_refused_whichever_side():
    check_size(10_000, 3, max_pixels=10**9, max_side=10_000)
    check_size(3, 10_000, max_pixels=10**9, max_side=10_000)
    for size in [(10_001, 3), (3, 10_001)]:
        with pytest.raises(ImageTooLargeError) as refused:
            check_size(*size, max_pixels=10**9, max_side=10_000)
        assert str(refused.value) == (f"the image is {size[0]} x {size[1]} pixels; at most "
                                      "10,000 pixels on a side are accepted")


def test_without_a_side_limit_only_the_pixels_count():
    check_size(1_000_000, 1, max_pixels=1_000_000)


@pytest.mark.parametrize("pixels, text", [(2048 * 2048, "2048 x 2048 pixels"),
                                          (1, "1 x 1 pixels"), (2000, "2,000 pixels"),
                                          (2048 * 2049, "4,196,352 pixels")])
def test_a_pixel_limit_reads_as_a_square_only_when_it_is_one(pixels, text):
    assert pixel_limit_text(pixels) == text


def test_a_batch_total_at_the_limit_passes_and_one_more_pixel_is_refused():
    check_total(12_288, 3, 12_288)
    with pytest.raises(ImageTooLargeError) as refused:
        check_total(12_289, 3, 12_288)
    assert str(refused.value) == ("the 3 images declare 12,289 pixels together; at most "
                                  "12,288 pixels are accepted per request (send fewer or "
                                  "smaller images per request)")


def test_no_bytes_and_not_an_image_are_input_errors_that_say_so():
    with pytest.raises(ImageInputError, match=r"^the image is empty \(0 bytes\)$"):
        open_image(b"")
    with pytest.raises(ImageInputError, match="^the data is not an image in a format we read"):
        open_image(b"hello, world")
    with pytest.raises(ImageInputError) as truncated:
        decode_image(to_png(np.full((64, 64), 200, np.uint8))[:60])
    assert type(truncated.value) is ImageInputError
    assert str(truncated.value).startswith("the image could not be decoded: ")


def test_a_header_over_pillows_bomb_guard_is_too_large_not_a_crash():
    with pytest.raises(ImageTooLargeError, match="^the image is too large to decode safely: "):
        open_image(png_claiming(10_000, 10_000))


def test_a_large_jpeg_is_decoded_at_the_smallest_scale_that_keeps_512_pixels_a_side():
    """2048 px: scales 1/2, 1/4 keep at least 512 px, 1/8 does not; so 1/4, 512 x 512."""
    buffer = io.BytesIO()
    Image.new("L", (2048, 2048), 255).save(buffer, "JPEG")
    assert decode_reduced(buffer.getvalue()).size == (2048 // 4, 2048 // 4)
    assert decode_image(buffer.getvalue()).size == (2048, 2048)


def test_to_png_keeps_every_pixel():
    pixels = np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) % 256
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(to_png(pixels)))), pixels)


def test_an_upload_is_checked_against_the_servers_pixel_and_side_limits():
    upload = intake.open_upload(png_claiming(100, 50), settings(max_image_pixels=5000))
    assert upload.pixels == 5000 and upload.image.size == (100, 50)
    with pytest.raises(ImageTooLargeError, match="at most 4,999 pixels"):
        intake.open_upload(png_claiming(100, 50), settings(max_image_pixels=4999))
    intake.open_upload(png_claiming(decoding.MAX_IMAGE_SIDE, 1), settings())
    with pytest.raises(ImageTooLargeError, match="10,000 pixels on a side"):
        intake.open_upload(png_claiming(decoding.MAX_IMAGE_SIDE + 1, 1), settings())


def test_a_batch_is_refused_from_its_headers_when_their_sum_is_over(monkeypatch):
    decoded = []
    monkeypatch.setattr(intake, "to_emnist", lambda upload, _: decoded.append(upload) or
                        np.zeros((28, 28), np.uint8))
    images = [png_claiming(64, 64)] * 3
    assert intake.read_images(images, settings(max_batch_pixels=3 * 64 * 64)).shape == (3, 28, 28)
    decoded.clear()
    with pytest.raises(ImageTooLargeError, match="the 3 images declare 12,288 pixels together"):
        intake.read_images(images, settings(max_batch_pixels=3 * 64 * 64 - 1))
    assert decoded == []


def test_an_image_read_is_in_emnists_form_and_its_pixels_are_freed():
    image = np.zeros((56, 56), np.uint8)
    image[10:46, 24:32] = 255
    upload = intake.open_upload(to_png(image), settings())
    pixels = intake.to_emnist(upload, settings())
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8 and pixels.max() > 0
    with pytest.raises(ValueError, match="closed image"):
        upload.image.getpixel((0, 0))
    assert intake.read_image(to_png(image), settings()).shape == (28, 28)


@pytest.fixture
def budget(monkeypatch):
    monkeypatch.setattr(intake, "BUDGET_WAIT_SECONDS", 0.05)
    return intake.PixelBudget(decodes_at_once=2)  # the arithmetic, with room for two


LIMIT = 4_000_000


def test_two_images_at_the_limit_decode_at_once_and_a_third_gets_a_503(budget):
    with budget.reserve(LIMIT, LIMIT), budget.reserve(LIMIT, LIMIT):
        with pytest.raises(ApiError) as busy:
            with budget.reserve(LIMIT, LIMIT):
                pass
    assert (busy.value.status, busy.value.error, busy.value.extra) == (503, "busy",
                                                                      {"retry_after": 1})
    assert busy.value.detail == ("the server is decoding other large images; retry in a second "
                                 "or send a smaller image")


def test_a_claim_fills_the_budget_exactly_and_is_given_back_after(budget):
    for _ in range(3):
        with budget.reserve(LIMIT, LIMIT), budget.reserve(LIMIT // 2, LIMIT):
            with budget.reserve(LIMIT // 2, LIMIT):
                pass


def test_a_claim_over_the_limit_counts_as_the_limit(budget):
    with budget.reserve(LIMIT, LIMIT), budget.reserve(3 * LIMIT, LIMIT):
        pass


def test_images_up_to_a_megapixel_never_wait_and_larger_ones_do(budget):
    with budget.reserve(LIMIT, LIMIT), budget.reserve(LIMIT, LIMIT):
        with budget.reserve(intake.SMALL_IMAGE_PIXELS, LIMIT):
            pass
        with pytest.raises(ApiError):
            with budget.reserve(1024 * 1024 + 1, LIMIT):
                pass


def test_a_waiting_image_gets_in_when_another_finishes(monkeypatch):
    monkeypatch.setattr(intake, "BUDGET_WAIT_SECONDS", 5.0)
    budget, holding, entered = intake.PixelBudget(), threading.Event(), threading.Event()

    def hold():
        with budget.reserve(2 * LIMIT, 2 * LIMIT):
            holding.set()
            entered.wait(0.2)  # not set while it holds: the waiter cannot get in

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    with budget.reserve(LIMIT, LIMIT):
        entered.set()
    holder.join(5)
    assert not holder.is_alive()


class CountingSpng:
    """libspng, counting the images it decoded (a call it refuses is not counted)."""

    def __init__(self, real) -> None:
        self.real, self.decoded = real, 0

    def load(self, data, format):  # noqa: A002 - pyspng's own keyword
        pixels = self.real.load(data, format=format)
        self.decoded += 1
        return pixels


@pytest.fixture
def spng(monkeypatch):
    if decoding.pyspng is None:
        pytest.skip("pyspng (the serve extra) is not installed")
    counting = CountingSpng(decoding.pyspng)
    monkeypatch.setattr(decoding, "pyspng", counting)
    return counting


def rgb_png(trailing: bytes = b"") -> bytes:
    pixels = np.random.default_rng(1).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    return to_png(pixels[..., 0]) if not trailing else to_png(pixels[..., 0]) + trailing


def test_libspng_decodes_a_png_only_where_asked_and_gives_pillows_pixels(spng):
    data = rgb_png()
    pillow = np.asarray(decode_image(data))
    assert spng.decoded == 0  # the default: Pillow
    assert np.array_equal(np.asarray(decoding.load_image(open_image(data), data)), pillow)
    assert spng.decoded == 0
    assert np.array_equal(np.asarray(decode_image(data, fast_png=True)), pillow)
    assert spng.decoded == 1
    assert np.array_equal(np.asarray(decode_reduced(data)), pillow) and spng.decoded == 2


def test_bytes_after_the_end_chunk_are_not_read_as_chunks(spng):
    """A tRNS header after IEND (trailing garbage) does not send the image to Pillow."""
    data = rgb_png(trailing=b"\x00\x00\x00\x01tRNS\x00")
    assert np.array_equal(np.asarray(decode_reduced(data)), np.asarray(decode_image(data)))
    assert spng.decoded == 1


def test_the_server_reads_a_png_upload_with_libspng(spng):
    intake.read_image(rgb_png(), settings())
    assert spng.decoded == 1


def jpeg(mode: str, side: int = 2048) -> bytes:
    """A dark bar on white paper, as a photographed character would be."""
    image = Image.new("L", (side, side), 255)
    image.paste(0, (side // 2 - 60, side // 4, side // 2 + 60, 3 * side // 4))
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_a_large_jpeg_of_any_colour_mode_is_decoded_reduced(mode):
    image = decode_reduced(jpeg(mode))
    assert image.size == (512, 512) and image.mode == mode


def test_the_server_decodes_a_large_jpeg_upload_reduced(monkeypatch):
    seen = []
    real = intake.image_to_emnist
    monkeypatch.setattr(intake, "image_to_emnist", lambda image: seen.append(image.size) or
                        real(image))
    assert intake.read_image(jpeg("L"), settings()).shape == (28, 28)
    assert seen == [(512, 512)]


def test_a_gif_upload_is_decoded_by_pillow_into_emnists_form():
    image = np.zeros((40, 40), np.uint8)
    image[5:35, 18:22] = 255
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "GIF")
    pixels = intake.read_image(buffer.getvalue(), settings())
    assert pixels.shape == (28, 28) and pixels.max() > 0


def test_a_batch_reads_each_image_as_one_read_alone_would():
    images = []
    for column in (6, 20):
        image = np.zeros((56, 56), np.uint8)
        image[8:48, column : column + 8] = 255
        images.append(to_png(image))
    batch = intake.read_images(images, settings())
    assert batch.shape == (2, 28, 28)
    for pixels, data in zip(batch, images, strict=True):
        assert np.array_equal(pixels, intake.read_image(data, settings()))


def test_a_png_that_ends_in_an_exif_chunk_header_goes_to_pillow(spng):
    """An eXIf chunk (an orientation Pillow applies) sends a PNG to Pillow, even one cut
    right after the chunk's 8-byte header with no end chunk: Pillow's answer, not libspng's."""
    data = to_png(np.full((30, 30), 90, np.uint8))
    with pytest.raises(ImageInputError, match="^the image could not be decoded: "):
        decode_reduced(data[:-12] + b"\x00\x00\x00\x10eXIf")
    assert spng.decoded == 0


def test_a_worker_decodes_one_image_at_the_limit_at_a_time(monkeypatch):
    """The worker's own budget (the default): a second image at the limit waits, then 503;
    half the limit fits beside nothing larger than the other half."""
    monkeypatch.setattr(intake, "BUDGET_WAIT_SECONDS", 0.05)
    budget = intake.PixelBudget()
    assert budget.decodes_at_once == intake.LARGE_DECODES_AT_ONCE == 1
    with budget.reserve(LIMIT, LIMIT):
        with pytest.raises(ApiError):
            with budget.reserve(intake.SMALL_IMAGE_PIXELS + 1, LIMIT):
                pass
    with budget.reserve(LIMIT // 2, LIMIT), budget.reserve(LIMIT // 2, LIMIT):
        pass
