package main

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Line charts drawn with image/png and x/image's built-in 7×13 bitmap font: axes from zero,
// five ticks each with numeric labels, the title (which names both axes) above, and a legend
// of the series in the top left corner. The report's Markdown repeats the title and legend.

type series struct {
	Name  string
	Color color.RGBA
	Pts   [][2]float64
}

var palette = []struct {
	Name string
	C    color.RGBA
}{
	{"blue", color.RGBA{31, 119, 180, 255}},
	{"orange", color.RGBA{255, 127, 14, 255}},
	{"green", color.RGBA{44, 160, 44, 255}},
	{"red", color.RGBA{214, 39, 40, 255}},
	{"purple", color.RGBA{148, 103, 189, 255}},
}

const (
	plotW, plotH = 640, 400
	marginL      = 70
	marginB      = 40
	marginT      = 36
	marginR      = 20
)

func plotLines(path, title string, ss []series) error {
	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	var xmax, ymax float64
	for _, s := range ss {
		for _, p := range s.Pts {
			xmax, ymax = math.Max(xmax, p[0]), math.Max(ymax, p[1])
		}
	}
	xmax, ymax = niceCeil(xmax), niceCeil(ymax*1.05)
	x0, y0 := marginL, plotH-marginB
	pw, ph := plotW-marginL-marginR, plotH-marginB-marginT
	px := func(x float64) int { return x0 + int(math.Round(x/xmax*float64(pw))) }
	py := func(y float64) int { return y0 - int(math.Round(y/ymax*float64(ph))) }
	grey, black := color.RGBA{220, 220, 220, 255}, color.RGBA{0, 0, 0, 255}
	for i := 0; i <= 5; i++ {
		gx := x0 + i*pw/5
		gy := y0 - i*ph/5
		line(img, gx, y0, gx, marginT, grey)
		line(img, x0, gy, x0+pw, gy, grey)
		xl := label(xmax * float64(i) / 5)
		text(img, gx-len(xl)*7/2, y0+18, xl, black)
		yl := label(ymax * float64(i) / 5)
		text(img, x0-8-len(yl)*7, gy+4, yl, black)
	}
	text(img, 8, 20, title, black)
	line(img, x0, y0, x0+pw, y0, black)
	line(img, x0, y0, x0, marginT, black)
	for _, s := range ss {
		for i, p := range s.Pts {
			cx, cy := px(p[0]), py(p[1])
			for dx := -2; dx <= 2; dx++ {
				for dy := -2; dy <= 2; dy++ {
					img.SetRGBA(cx+dx, cy+dy, s.Color)
				}
			}
			if i > 0 {
				q := s.Pts[i-1]
				thick(img, px(q[0]), py(q[1]), cx, cy, s.Color)
			}
		}
	}
	for i, s := range ss { // the legend, over the grid in the top left corner
		y := marginT + 8 + i*16
		for dx := 0; dx < 18; dx++ {
			for dy := -1; dy <= 1; dy++ {
				img.SetRGBA(x0+10+dx, y+dy, s.Color)
			}
		}
		text(img, x0+34, y+4, s.Name, black)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// niceCeil rounds up to 1, 2 or 5 × a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func label(v float64) string {
	switch {
	case v >= 10000 && math.Mod(v, 1000) == 0:
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// ascii spells the few non-ASCII characters of the titles with the font's own (it has no
// others).
var ascii = strings.NewReplacer("→", "->", "µ", "u", "×", "x", "–", "-")

// text draws s with its baseline at y.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	s = ascii.Replace(s)
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func thick(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	for d := -1; d <= 1; d++ {
		line(img, x0, y0+d, x1, y1+d, c)
		line(img, x0+d, y0, x1+d, y1, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
