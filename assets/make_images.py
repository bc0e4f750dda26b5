# Draws netkit's /image assets once (they are committed): a 64x64 picture, a blue disc
# with an orange bar on white, saved as PNG, JPEG and WebP beside this script.
import os

from PIL import Image, ImageDraw

img = Image.new("RGB", (64, 64), (255, 255, 255))
d = ImageDraw.Draw(img)
d.ellipse((8, 8, 56, 56), fill=(47, 111, 191))
d.rectangle((20, 28, 44, 36), fill=(240, 140, 40))
out = os.path.dirname(os.path.abspath(__file__))
img.save(os.path.join(out, "image.png"), optimize=True)
img.save(os.path.join(out, "image.jpeg"), quality=85)
img.save(os.path.join(out, "image.webp"), quality=80)
