package web

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"sync"
)

// favicon answers the request every browser makes for /favicon.ico on a
// page that names no icon (the JSON API, /metrics, /probe?debug=true): a
// 404 there is noise in the browser's console and in access logs. The
// icon is drawn once, on first request: a green dot in a ring, a probe
// that passed. PNG bytes are what browsers accept at this path.
var favicon = sync.OnceValue(func() []byte {
	const size = 32
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	ring := color.NRGBA{R: 0x1f, G: 0x6f, B: 0xb2, A: 0xff}
	dot := color.NRGBA{R: 0x2e, G: 0xa0, B: 0x43, A: 0xff}
	for y := range size {
		for x := range size {
			dx, dy := 2*x-size+1, 2*y-size+1 // twice the distance from the centre
			switch r2 := dx*dx + dy*dy; {
			case r2 <= 14*14:
				img.Set(x, y, dot)
			case r2 >= 22*22 && r2 <= 30*30:
				img.Set(x, y, ring)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // an in-memory image of fixed size always encodes
	}
	return b.Bytes()
})

func serveFavicon(w http.ResponseWriter, _ *http.Request) {
	b := favicon()
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b) //nolint:errcheck // the client went away: nothing to do
}
