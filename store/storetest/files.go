package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

const noQuota = 0

func sampleFile(h *harness, sid, container string, size int64) adapter.File {
	return adapter.File{
		SID:          sid,
		ContainerSID: container,
		Name:         sid + ".wav",
		Format:       "wav",
		MIMEType:     "audio/wav",
		Bytes:        size,
		Duration:     3500 * time.Millisecond,
		Created:      h.at(0),
		Modified:     h.at(0),
		Lifecycle:    translate.LifecycleNoAction,
		CallID:       "call-1",
		BlobKey:      container + "/" + sid + ".wav",
	}
}

func usage(t *testing.T, h *harness, container string, want int64) {
	t.Helper()
	got, err := h.b.ContainerUsage(h.ctx, container)
	ok(t, err, "container usage")
	if got != want {
		t.Fatalf("usage of %s = %d, want %d", container, got, want)
	}
}

func testFileCRUD(t *testing.T, h *harness) {
	f := sampleFile(h, "f-1", "c-1", 1000)
	f.IntegerKey1, f.StringKey2 = ptr(int64(-7)), ptr("customer 42")
	f.Lifecycle, f.LifecycleTTL, f.ExpiresAt = translate.LifecycleDelete, time.Hour, h.at(time.Hour)
	ok(t, h.b.CreateFile(h.ctx, f, noQuota), "create file")
	got, err := h.b.GetFile(h.ctx, "f-1")
	ok(t, err, "get file")
	equal(t, got, f, "stored file")

	isErr(t, h.b.CreateFile(h.ctx, f, noQuota), adapter.ErrConflict, "create an existing SID")

	f.Name, f.Bytes, f.Modified = "renamed.wav", 1500, h.at(time.Minute)
	f.IntegerKey1, f.IntegerKey2, f.StringKey1 = nil, ptr(int64(9)), ptr("x")
	ok(t, h.b.UpdateFile(h.ctx, f, noQuota), "update file")
	got, err = h.b.GetFile(h.ctx, "f-1")
	ok(t, err, "get updated file")
	equal(t, got, f, "updated file")

	ok(t, h.b.DeleteFile(h.ctx, "f-1"), "delete file")
	_, err = h.b.GetFile(h.ctx, "f-1")
	isErr(t, err, adapter.ErrNotFound, "get deleted file")
	isErr(t, h.b.DeleteFile(h.ctx, "f-1"), adapter.ErrNotFound, "delete a deleted file")
	isErr(t, h.b.UpdateFile(h.ctx, f, noQuota), adapter.ErrNotFound, "update a deleted file")
	usage(t, h, "c-1", 0)
}

func testFileFilters(t *testing.T, h *harness) {
	mk := func(sid, container string, i1, i2 *int64, s1, s2 *string) {
		f := sampleFile(h, sid, container, 10)
		f.IntegerKey1, f.IntegerKey2, f.StringKey1, f.StringKey2 = i1, i2, s1, s2
		ok(t, h.b.CreateFile(h.ctx, f, noQuota), "create "+sid)
	}
	mk("a1", "A", ptr(int64(1)), nil, ptr("red"), nil)
	mk("a2", "A", ptr(int64(1)), ptr(int64(5)), ptr("blue"), ptr("x"))
	mk("a3", "A", ptr(int64(2)), ptr(int64(5)), nil, ptr("x"))
	mk("a4", "A", nil, nil, nil, nil)
	mk("b1", "B", ptr(int64(1)), ptr(int64(5)), ptr("red"), ptr("x"))

	for _, tc := range []struct {
		name string
		q    adapter.FileQuery
		want []string
	}{
		{"all", adapter.FileQuery{}, []string{"a1", "a2", "a3", "a4", "b1"}},
		{"container", adapter.FileQuery{ContainerSID: "A"}, []string{"a1", "a2", "a3", "a4"}},
		{"unknown container", adapter.FileQuery{ContainerSID: "Z"}, nil},
		{"container prefix is not a match", adapter.FileQuery{ContainerSID: "A1"}, nil},
		{"integer_key_1", adapter.FileQuery{IntegerKey1: ptr(int64(1))}, []string{"a1", "a2", "b1"}},
		{"integer_key_2 in container", adapter.FileQuery{ContainerSID: "A", IntegerKey2: ptr(int64(5))}, []string{"a2", "a3"}},
		{"string_key_1", adapter.FileQuery{StringKey1: ptr("red")}, []string{"a1", "b1"}},
		{"string_key_2", adapter.FileQuery{StringKey2: ptr("x")}, []string{"a2", "a3", "b1"}},
		{"empty string key matches only an empty key", adapter.FileQuery{StringKey1: ptr("")}, nil},
		{"all keys", adapter.FileQuery{ContainerSID: "A", IntegerKey1: ptr(int64(1)), IntegerKey2: ptr(int64(5)),
			StringKey1: ptr("blue"), StringKey2: ptr("x")}, []string{"a2"}},
		{"no match", adapter.FileQuery{IntegerKey1: ptr(int64(3))}, nil},
	} {
		got, err := h.b.ListFiles(h.ctx, tc.q)
		ok(t, err, "list "+tc.name)
		equal(t, sids(got), tc.want, "list "+tc.name)
	}
}

// Pages of Limit files, continued with After, are ordered by SID and together list each
// matching file once.
func testFilePagination(t *testing.T, h *harness) {
	var wantA, wantAll []string
	for i := range 30 {
		container := "A"
		if i%6 == 5 {
			container = "B"
		}
		sid := fmt.Sprintf("f-%02d", i)
		ok(t, h.b.CreateFile(h.ctx, sampleFile(h, sid, container, 1), noQuota), "create file")
		wantAll = append(wantAll, sid)
		if container == "A" {
			wantA = append(wantA, sid)
		}
	}
	page := func(q adapter.FileQuery) []string {
		var all []string
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("pagination does not end")
			}
			got, err := h.b.ListFiles(h.ctx, q)
			ok(t, err, "list page")
			if len(got) > q.Limit {
				t.Fatalf("page of %d files, limit %d", len(got), q.Limit)
			}
			if len(got) == 0 {
				return all
			}
			all = append(all, sids(got)...)
			q.After = got[len(got)-1].SID
		}
	}
	equal(t, page(adapter.FileQuery{ContainerSID: "A", Limit: 7}), wantA, "pages of container A")
	equal(t, page(adapter.FileQuery{Limit: 10}), wantAll, "pages of all files")
	equal(t, page(adapter.FileQuery{ContainerSID: "B", IntegerKey1: nil, Limit: 2}), []string{"f-05", "f-11", "f-17", "f-23", "f-29"}, "pages of container B")

	// After need not name an existing file.
	got, err := h.b.ListFiles(h.ctx, adapter.FileQuery{ContainerSID: "A", After: "f-12x", Limit: 2})
	ok(t, err, "list after a missing SID")
	equal(t, sids(got), []string{"f-13", "f-14"}, "page after a missing SID")
}

func testFileQuota(t *testing.T, h *harness) {
	const quota = 100
	ok(t, h.b.CreateFile(h.ctx, sampleFile(h, "f-1", "c", 60), quota), "create 60 of 100")
	isErr(t, h.b.CreateFile(h.ctx, sampleFile(h, "f-2", "c", 41), quota), adapter.ErrQuota, "create 41 more")
	_, err := h.b.GetFile(h.ctx, "f-2")
	isErr(t, err, adapter.ErrNotFound, "a file refused for quota is not stored")
	usage(t, h, "c", 60)

	ok(t, h.b.CreateFile(h.ctx, sampleFile(h, "f-2", "c", 40), quota), "create exactly to the quota")
	usage(t, h, "c", 100)
	// Another container has its own quota.
	ok(t, h.b.CreateFile(h.ctx, sampleFile(h, "f-3", "other", 100), quota), "create in another container")
	// No quota: no limit.
	ok(t, h.b.CreateFile(h.ctx, sampleFile(h, "f-4", "c", 1<<40), noQuota), "create without a quota")
	usage(t, h, "c", 100+1<<40)
}

func testFileUsageAfterUpdateDelete(t *testing.T, h *harness) {
	const quota = 100
	f1, f2 := sampleFile(h, "f-1", "c", 60), sampleFile(h, "f-2", "c", 30)
	ok(t, h.b.CreateFile(h.ctx, f1, quota), "create f-1")
	ok(t, h.b.CreateFile(h.ctx, f2, quota), "create f-2")
	usage(t, h, "c", 90)

	// Append: grow within the quota, then past it.
	f1.Bytes = 70
	ok(t, h.b.UpdateFile(h.ctx, f1, quota), "grow f-1 to 70")
	usage(t, h, "c", 100)
	grown := f1
	grown.Bytes = 71
	isErr(t, h.b.UpdateFile(h.ctx, grown, quota), adapter.ErrQuota, "grow f-1 past the quota")
	got, err := h.b.GetFile(h.ctx, "f-1")
	ok(t, err, "get f-1")
	equal(t, got, f1, "f-1 after a refused update")
	usage(t, h, "c", 100)

	// Overwrite with something smaller.
	f1.Bytes = 20
	ok(t, h.b.UpdateFile(h.ctx, f1, quota), "shrink f-1")
	usage(t, h, "c", 50)

	// A container over a lowered quota can still shrink, not grow.
	const lowered = 10
	f1.Bytes = 15
	ok(t, h.b.UpdateFile(h.ctx, f1, lowered), "shrink over a lowered quota")
	usage(t, h, "c", 45)
	f1.Bytes = 16
	isErr(t, h.b.UpdateFile(h.ctx, f1, lowered), adapter.ErrQuota, "grow over a lowered quota")
	f1.Bytes = 15

	// Moving a file moves its charge.
	f2.ContainerSID = "d"
	ok(t, h.b.UpdateFile(h.ctx, f2, quota), "move f-2 to d")
	usage(t, h, "c", 15)
	usage(t, h, "d", 30)
	got2, err := h.b.ListFiles(h.ctx, adapter.FileQuery{ContainerSID: "c"})
	ok(t, err, "list c")
	equal(t, sids(got2), []string{"f-1"}, "container c after the move")
	big := sampleFile(h, "f-3", "d", 70)
	ok(t, h.b.CreateFile(h.ctx, big, quota), "fill d")
	big.ContainerSID = "c"
	big.Bytes = 86
	isErr(t, h.b.UpdateFile(h.ctx, big, quota), adapter.ErrQuota, "move into a container without room")
	usage(t, h, "d", 100)

	ok(t, h.b.DeleteFile(h.ctx, "f-1"), "delete f-1")
	usage(t, h, "c", 0)
	ok(t, h.b.DeleteFile(h.ctx, "f-2"), "delete f-2")
	usage(t, h, "d", 70)
	usage(t, h, "never-used", 0)
}

func testFileExpiry(t *testing.T, h *harness) {
	mk := func(sid string, expires time.Duration) adapter.File {
		f := sampleFile(h, sid, "c", 1)
		if expires != 0 {
			f.Lifecycle, f.LifecycleTTL, f.ExpiresAt = translate.LifecycleDelete, expires, h.at(expires)
		}
		ok(t, h.b.CreateFile(h.ctx, f, noQuota), "create "+sid)
		return f
	}
	f3 := mk("e-3", 3*time.Second)
	mk("e-1", 1*time.Second)
	mk("e-2", 2*time.Second)
	mk("keep", 0)
	f4 := mk("e-4", 4*time.Second)

	expired := func(now time.Duration, limit int) []string {
		fs, err := h.b.ExpiredFiles(h.ctx, h.at(now), limit)
		ok(t, err, "expired files")
		return sids(fs)
	}
	equal(t, expired(0, 0), nil, "expired at the start")
	equal(t, expired(2*time.Second, 0), []string{"e-1", "e-2"}, "expired at 2s (inclusive)")
	equal(t, expired(time.Hour, 2), []string{"e-1", "e-2"}, "expired at 1h, limit 2")
	equal(t, expired(time.Hour, 0), []string{"e-1", "e-2", "e-3", "e-4"}, "expired at 1h")

	// Updates move a file in the expiry order or out of it.
	f3.ExpiresAt = h.at(500 * time.Millisecond)
	ok(t, h.b.UpdateFile(h.ctx, f3, noQuota), "expire e-3 sooner")
	f4.ExpiresAt, f4.Lifecycle = time.Time{}, translate.LifecycleNoAction
	ok(t, h.b.UpdateFile(h.ctx, f4, noQuota), "make e-4 permanent")
	ok(t, h.b.DeleteFile(h.ctx, "e-1"), "delete e-1")
	equal(t, expired(time.Hour, 0), []string{"e-3", "e-2"}, "expired after updates")
}
