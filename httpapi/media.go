package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// MediaStore keeps audio prepared for the PBX in memory, by content hash, evicting the least
// recently used entries beyond a byte budget. It is safe for concurrent use.
type MediaStore struct {
	mu      sync.Mutex
	max     int64
	size    int64
	items   map[string]*mediaItem
	head    *mediaItem // most recently used
	tail    *mediaItem // least recently used
	baseURL string
}

type mediaItem struct {
	name       string
	data       []byte
	mime       string
	prev, next *mediaItem
}

// NewMediaStore keeps up to maxBytes of media, served under publicURL/media/.
func NewMediaStore(publicURL string, maxBytes int64) *MediaStore {
	return &MediaStore{max: maxBytes, items: map[string]*mediaItem{}, baseURL: publicURL + "/media/"}
}

// Put stores audio and returns the URL the PBX fetches it from. The same bytes give the same URL.
func (m *MediaStore) Put(data []byte, ext, mime string) string {
	sum := sha256.Sum256(data)
	name := hex.EncodeToString(sum[:16]) + "." + ext
	m.mu.Lock()
	defer m.mu.Unlock()
	if it, ok := m.items[name]; ok {
		m.touch(it)
		return m.baseURL + name
	}
	it := &mediaItem{name: name, data: data, mime: mime}
	m.items[name] = it
	m.size += int64(len(data))
	m.pushFront(it)
	for m.size > m.max && m.tail != nil && m.tail != it {
		old := m.tail
		m.unlink(old)
		delete(m.items, old.name)
		m.size -= int64(len(old.data))
	}
	return m.baseURL + name
}

// Get returns stored media by name.
func (m *MediaStore) Get(name string) ([]byte, string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[name]
	if !ok {
		return nil, "", false
	}
	m.touch(it)
	return it.data, it.mime, true
}

func (m *MediaStore) touch(it *mediaItem) {
	m.unlink(it)
	m.pushFront(it)
}

func (m *MediaStore) pushFront(it *mediaItem) {
	it.prev, it.next = nil, m.head
	if m.head != nil {
		m.head.prev = it
	}
	m.head = it
	if m.tail == nil {
		m.tail = it
	}
}

func (m *MediaStore) unlink(it *mediaItem) {
	if it.prev != nil {
		it.prev.next = it.next
	} else if m.head == it {
		m.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else if m.tail == it {
		m.tail = it.prev
	}
	it.prev, it.next = nil, nil
}
