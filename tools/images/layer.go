package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layer is an in-memory tar of one image layer. Parent directories are
// added on demand; a path added twice keeps its first entry.
type layer struct {
	buf  bytes.Buffer
	tw   *tar.Writer
	seen map[string]bool
}

// epoch makes the tarballs reproducible: same inputs, same image digest.
var epoch = time.Unix(0, 0)

func newLayer() *layer {
	l := &layer{seen: map[string]bool{}}
	l.tw = tar.NewWriter(&l.buf)
	return l
}

func (l *layer) header(h *tar.Header) error {
	h.Name = strings.TrimPrefix(h.Name, "/")
	if l.seen[h.Name] {
		return nil
	}
	if err := l.parents(path.Dir("/" + strings.TrimSuffix(h.Name, "/"))); err != nil {
		return err
	}
	l.seen[h.Name] = true
	h.ModTime = epoch
	h.Format = tar.FormatPAX
	return l.tw.WriteHeader(h)
}

func (l *layer) parents(dir string) error {
	if dir == "/" || l.seen[strings.TrimPrefix(dir, "/")+"/"] {
		return nil
	}
	return l.dir(dir, 0o755, 0)
}

func (l *layer) dir(p string, mode int64, uid int) error {
	p = strings.TrimSuffix(p, "/") + "/"
	return l.header(&tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: mode, Uid: uid, Gid: uid})
}

func (l *layer) symlink(p, target string) error {
	return l.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: p, Linkname: target, Mode: 0o777})
}

func (l *layer) bytes(p string, data []byte, mode int64, uid int) error {
	if l.seen[strings.TrimPrefix(p, "/")] {
		return nil // the same library needed by two programs
	}
	if err := l.header(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Uid: uid, Gid: uid, Size: int64(len(data))}); err != nil {
		return err
	}
	_, err := l.tw.Write(data)
	return err
}

// file copies a host file (following symlinks) to p in the image.
func (l *layer) file(src, p string, mode int64, uid int) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return l.bytes(p, data, mode, uid)
}

// tree copies a host directory to dst, keeping symlinks as symlinks and
// file modes; every entry gets uid.
func (l *layer) tree(src, dst string, uid int) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := path.Join(dst, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return l.dir(target, 0o755, uid)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return l.symlink(target, link)
		case info.Mode().IsRegular():
			return l.file(p, target, int64(info.Mode().Perm()), uid)
		}
		return nil // sockets, devices: nothing an image needs
	})
}

// base lays out what every image has: /etc/passwd and /etc/group with root,
// nonroot (65532) and mcp (10001), a sticky /tmp.
func (l *layer) base(uid int) {
	must(l.bytes("/etc/passwd", []byte("root:x:0:0:root:/root:/sbin/nologin\n"+
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"+
		"mcp:x:10001:10001:mcp:/home/mcp:/sbin/nologin\n"), 0o644, 0))
	must(l.bytes("/etc/group", []byte("root:x:0:\nnonroot:x:65532:\nmcp:x:10001:\n"), 0o644, 0))
	must(l.dir("/tmp", 0o1777, 0))
	if home, ok := map[int]string{10001: "/home/mcp", 65532: "/home/nonroot"}[uid]; ok {
		must(l.dir(home, 0o755, uid))
	}
}

var lddLine = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x`)

// sharedLibs copies the ELF binary's shared libraries (as ldd resolves them
// on this host) to the same paths in the image.
func (l *layer) sharedLibs(bin string) error {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, m := range lddLine.FindAllStringSubmatch(string(out), -1) {
		libs = append(libs, m[1])
	}
	sort.Strings(libs)
	for _, lib := range libs {
		if err := l.file(lib, lib, 0o755, 0); err != nil {
			return fmt.Errorf("library of %s: %w", bin, err)
		}
	}
	return nil
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// imageSpec is one layer plus the config the image runs with.
type imageSpec struct {
	layer      *layer
	user       string
	entrypoint []string
	cmd        []string
	env        []string
	workdir    string
}

// write saves the image as a docker-archive tarball tagged tag, the format
// `ctr images import` reads.
func (s imageSpec) write(file, tag string) error {
	if err := s.layer.tw.Close(); err != nil {
		return err
	}
	data := s.layer.buf.Bytes()
	lay, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, lay)
	if err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", "amd64", v1.Time{Time: epoch}
	cf.Config.User = s.user
	cf.Config.Entrypoint = s.entrypoint
	cf.Config.Cmd = s.cmd
	cf.Config.Env = s.env
	cf.Config.WorkingDir = s.workdir
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return os.Rename(tmp, file)
}
