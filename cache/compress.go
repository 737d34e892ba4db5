package cache

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Pages are compressed once, when they are filled: the gzip bytes go to
// clients that accept them as they are, to Redis (a tenth of the bytes on
// the wire and in memory there), and the in-process tier keeps the
// identity bytes beside them for clients that do not.

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
	return w
}}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b)/8 + 64)
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	gzipWriters.Put(w)
	return out.Bytes()
}

// maxGunzipped bounds what a stored page may decompress to.
const maxGunzipped = 1 << 28

// gunzip decompresses what Gzip made.
func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, maxGunzipped+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxGunzipped {
		return nil, fmt.Errorf("cache: a stored page decompresses to more than %d bytes", maxGunzipped)
	}
	return out, nil
}
