#!/usr/bin/python3
"""make.py - rebuilds the photos of tests/data from the Debian packages they come from.

The tests read the files this writes (they are committed, so no test needs Python imaging); run
this only to check or regenerate them. README.md beside it says where each photo comes from, its
licence, and how each derived image is made. Needs python3-pil and the two packages below,
installed or unpacked (`apt-get download P && dpkg -x P.deb DIR`, then SKIMAGE_DATA=DIR/... and
MPL_DATA=DIR/...):
  python3-skimage        /usr/lib/python3/dist-packages/skimage/data: astronaut.png, camera.png,
                         coffee.png
  python-matplotlib-data /usr/share/matplotlib/mpl-data/sample_data: grace_hopper.jpg

The second photo of a person is derived (crop, scale, brightness, a small rotation, a mirror):
no second public-domain photo of the same people ships in Debian. That is a weaker same-person
test than two sittings, so the tests that need real pose and lighting variation stay on LFW
(../shared) as evaluations.
"""
import os
import shutil
import sys

from PIL import Image, ImageEnhance

SKIMAGE = os.environ.get("SKIMAGE_DATA", "/usr/lib/python3/dist-packages/skimage/data")
MPL = os.environ.get("MPL_DATA", "/usr/share/matplotlib/mpl-data/sample_data")
OUT = os.path.dirname(os.path.abspath(__file__))
GRAY = (118, 118, 118)


def save(img, name):
    img.save(os.path.join(OUT, name), quality=90, optimize=True)


def variant(img, box, size, brightness, degrees, mirror):
    """A second photo of the same person: crop to box, scale to size x size, change brightness,
    rotate by degrees (counter-clockwise, corners filled gray), mirror left to right."""
    v = img.crop(box).resize((size, size), Image.LANCZOS)
    v = ImageEnhance.Brightness(v).enhance(brightness)
    v = v.rotate(degrees, resample=Image.BICUBIC, fillcolor=GRAY)
    return v.transpose(Image.FLIP_LEFT_RIGHT) if mirror else v


def main():
    collins = Image.open(os.path.join(SKIMAGE, "astronaut.png")).convert("RGB")
    camera = Image.open(os.path.join(SKIMAGE, "camera.png")).convert("L")
    hopper_path = os.path.join(MPL, "grace_hopper.jpg")
    hopper = Image.open(hopper_path).convert("RGB")

    save(collins, "collins.jpg")
    shutil.copyfile(hopper_path, os.path.join(OUT, "hopper.jpg"))  # already a JPEG: as shipped
    save(camera, "camera.jpg")
    save(Image.open(os.path.join(SKIMAGE, "coffee.png")).convert("RGB"), "coffee.jpg")

    save(variant(collins, (60, 10, 460, 410), 320, 0.85, 5, True), "collins-2.jpg")
    save(variant(collins, (110, 0, 390, 280), 420, 1.15, -4, False), "collins-3.jpg")
    save(variant(hopper, (70, 30, 450, 410), 300, 0.9, -5, True), "hopper-2.jpg")

    # A group: three people side by side at clearly different face sizes (Hopper's face about
    # 120 px wide, Collins's about 80, the cameraman's about 50), on gray.
    group = Image.new("RGB", (1000, 560), GRAY)
    group.paste(hopper.resize((300, 352), Image.LANCZOS), (20, 120))
    group.paste(collins.resize((440, 440), Image.LANCZOS), (330, 60))
    group.paste(camera.convert("RGB").resize((400, 400), Image.LANCZOS), (590, 130))
    save(group, "group.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
