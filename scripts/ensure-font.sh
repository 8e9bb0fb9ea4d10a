#!/usr/bin/env bash
# Run by `make run` before the server starts: contracts embed a CJK font, so make sure one is
# there. Nothing to do when QIANSHU_FONT names one or a font qianshu looks for by default
# (src/pdf/font.rs) is installed; otherwise install Noto CJK from the distribution's packages
# where this user can. The server starts either way: without a font, contract documents fail
# with an error naming --font (QIANSHU_FONT).
set -euo pipefail

if [ -n "${QIANSHU_FONT:-}" ]; then exit 0; fi
for f in /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
         /usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc \
         /usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc \
         /usr/share/fonts/truetype/wqy/wqy-microhei.ttc; do
  [ -f "$f" ] && exit 0
done

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"
echo "no CJK font found: installing Noto Sans CJK SC for contract documents"
if command -v apt-get >/dev/null; then
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null && exit 0
elif command -v dnf >/dev/null; then
  $sudo dnf install -y -q google-noto-sans-cjk-ttc-fonts google-noto-serif-cjk-ttc-fonts && exit 0
elif command -v pacman >/dev/null; then
  $sudo pacman -S --noconfirm --needed noto-fonts-cjk && exit 0
fi
echo "!!! could not install a CJK font: install Noto Sans CJK SC (Debian: fonts-noto-cjk) or set QIANSHU_FONT to a .ttf/.otf/.ttc file; until then contract documents cannot be made !!!" >&2
