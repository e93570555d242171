package web

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateIcons = flag.Bool("update-icons", false, "rewrite web/scanner/icons from the drawing in icons_test.go")

// The icon, on a 512-unit grid: a barcode over a green "synced" bar on
// the app's navy. The SVG and PNG files are all drawn from this one
// description, so they cannot drift apart.
var (
	iconNavy  = color.NRGBA{0x10, 0x23, 0x3a, 0xff}
	iconWhite = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	iconGreen = color.NRGBA{0x2f, 0xbf, 0x60, 0xff}
)

type iconRect struct {
	x, y, w, h float64
	c          color.NRGBA
}

func iconShapes() []iconRect {
	var out []iconRect
	x := 112.0
	for i, w := range []float64{16, 8, 24, 8, 8, 16, 32, 8, 16, 8, 24, 8, 16, 32, 8, 16, 40} {
		if i%2 == 0 {
			out = append(out, iconRect{x, 128, w, 208, iconWhite})
		}
		x += w
	}
	out = append(out, iconRect{112, 368, 288, 32, iconGreen})
	return out
}

// iconSVG writes the icon as SVG; maskable fills the square and shrinks the
// drawing into the safe zone.
func iconSVG(maskable bool) []byte {
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" width="512" height="512">` + "\n")
	hex := func(c color.NRGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }
	if maskable {
		fmt.Fprintf(&b, `<rect width="512" height="512" fill="%s"/>`+"\n", hex(iconNavy))
		b.WriteString(`<g transform="translate(51.2 51.2) scale(0.8)">` + "\n")
	} else {
		fmt.Fprintf(&b, `<rect width="512" height="512" rx="96" fill="%s"/>`+"\n", hex(iconNavy))
		b.WriteString("<g>\n")
	}
	for _, r := range iconShapes() {
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="%s"/>`+"\n", r.x, r.y, r.w, r.h, hex(r.c))
	}
	b.WriteString("</g>\n</svg>\n")
	return []byte(b.String())
}

// iconPNG renders the rounded icon at size×size pixels, sampling each
// pixel 4×4 times so edges are smooth.
func iconPNG(size int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	shapes := iconShapes()
	scale := 512 / float64(size)
	const ss = 4
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, bl, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) * scale
					y := (float64(py) + (float64(sy)+0.5)/ss) * scale
					if !inRoundedSquare(x, y, 512, 96) {
						continue
					}
					c := iconNavy
					for _, s := range shapes {
						if x >= s.x && x < s.x+s.w && y >= s.y && y < s.y+s.h {
							c = s.c
						}
					}
					r += float64(c.R)
					g += float64(c.G)
					bl += float64(c.B)
					a++
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{uint8(r/a + 0.5), uint8(g/a + 0.5), uint8(bl/a + 0.5), uint8(255*a/(ss*ss) + 0.5)})
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return buf.Bytes()
}

func inRoundedSquare(x, y, size, radius float64) bool {
	cx := min(max(x, radius), size-radius)
	cy := min(max(y, radius), size-radius)
	dx, dy := x-cx, y-cy
	return dx*dx+dy*dy <= radius*radius
}

// TestIconsAreGenerated checks the committed icons against the drawing;
// `go test ./web -run TestIconsAreGenerated -update-icons` rewrites them.
func TestIconsAreGenerated(t *testing.T) {
	want := map[string][]byte{
		"icon.svg":          iconSVG(false),
		"icon-maskable.svg": iconSVG(true),
		"icon-192.png":      iconPNG(192),
		"icon-512.png":      iconPNG(512),
	}
	dir := filepath.Join("scanner", "icons")
	for name, b := range want {
		p := filepath.Join(dir, name)
		if *updateIcons {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (generate the icons with -update-icons)", err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from the drawing in icons_test.go: rerun with -update-icons", p)
		}
	}
	for _, size := range []int{192, 512} {
		img, err := png.Decode(bytes.NewReader(want[fmt.Sprintf("icon-%d.png", size)]))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Fatalf("icon-%d.png is %v", size, b)
		}
		// The centre of the green bar is green, a corner is transparent.
		if c := color.NRGBAModel.Convert(img.At(size/2, size*384/512)).(color.NRGBA); c != iconGreen {
			t.Errorf("icon-%d.png: green bar pixel is %v", size, c)
		}
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Errorf("icon-%d.png: corner is not transparent (alpha %d)", size, a)
		}
	}
}
