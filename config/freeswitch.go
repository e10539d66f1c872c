package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// UploadSignature authenticates one recording upload (record_transfer http): the HMAC-SHA256,
// keyed with upload_token, of the PBX's name and the file name. It goes in the upload URL
// because mod_http_cache sends no headers of ours; a URL seen in FreeSWITCH's log then
// allows the upload of that one file only, and never shows the token. esl builds the URL,
// httpapi checks it.
func UploadSignature(token Secret, pbx, file string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("freeswitch-upload\n" + pbx + "\n" + file))
	return hex.EncodeToString(m.Sum(nil))
}

// UploadPath is the path, under upload_url, that FreeSWITCH PUTs the recording file to.
func (f FreeSWITCH) UploadPath(file string) string {
	return "/v1/freeswitch/" + f.Name + "/recordings/" + UploadSignature(f.UploadToken, f.Name, file) + "/" + file
}
