package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
)

// redPixelPNG is a 1x1 red PNG, the image the scenarios ask for.
var redPixelPNG = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return b.Bytes()
}()

// silentWAV is a minimal valid WAV file: 10 ms of 8 kHz 16-bit mono silence.
var silentWAV = func() []byte {
	const (
		rate     = 8000
		samples  = rate / 100
		bits     = 16
		channels = 1
		dataLen  = samples * channels * bits / 8
	)
	var b bytes.Buffer
	put := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	put(uint32(36 + dataLen))
	b.WriteString("WAVEfmt ")
	put(uint32(16))                         // fmt chunk size
	put(uint16(1))                          // PCM
	put(uint16(channels))                   //
	put(uint32(rate))                       //
	put(uint32(rate * channels * bits / 8)) // byte rate
	put(uint16(channels * bits / 8))        // block align
	put(uint16(bits))                       //
	b.WriteString("data")
	put(uint32(dataLen))
	b.Write(make([]byte, dataLen))
	return b.Bytes()
}()
