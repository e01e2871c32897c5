// The reference for werf's secret formats in the tests, written against Go's own crypto/aes,
// crypto/cipher and yaml.v3 (GOPATH from Debian's golang packages, no modules):
//
//	go run main.go MODE KEY < input > output
//
// The formats are werf v3's (common-go branch 1): AES-GCM with the 2-byte version as associated
// data, version 2 for whole files and version 3 for YAML values. (Every other revision's shape
// is made by tests/secrets/werf_secret.py, with Python's `cryptography`.)
//
// MODE: encrypt-file (AES-GCM, version 2), encrypt-file-cbc (legacy AES-CBC, version 16),
// decrypt-file, encrypt-values (each scalar leaf framed with its tag and style, version 3),
// encrypt-values-cbc (each leaf as its string, version 16), decrypt-values (printed as JSON of
// the decoded document, so types can be compared).
package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	yaml "gopkg.in/yaml.v3"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func block(key string) cipher.Block {
	raw, err := hex.DecodeString(key)
	if err != nil {
		fail(err)
	}
	b, err := aes.NewCipher(raw)
	if err != nil {
		fail(err)
	}
	return b
}

func sealGCM(b cipher.Block, version uint16, data []byte) string {
	gcm, err := cipher.NewGCM(b)
	if err != nil {
		fail(err)
	}
	out := make([]byte, 2+12)
	binary.LittleEndian.PutUint16(out, version)
	if _, err := io.ReadFull(rand.Reader, out[2:]); err != nil {
		fail(err)
	}
	head := append([]byte{}, out[:2]...)
	return hex.EncodeToString(gcm.Seal(out, out[2:], data, head))
}

func sealCBC(b cipher.Block, data []byte) string {
	pad := aes.BlockSize - len(data)%aes.BlockSize
	plain := append(append([]byte{}, data...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, 2+aes.BlockSize+len(plain))
	binary.LittleEndian.PutUint16(out, 16)
	iv := out[2 : 2+aes.BlockSize]
	if _, err := io.ReadFull(rand.Reader, iv); err != nil {
		fail(err)
	}
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out[2+aes.BlockSize:], plain)
	return hex.EncodeToString(out)
}

func open(b cipher.Block, text string) ([]byte, uint16) {
	raw, err := hex.DecodeString(string(bytes.TrimSpace([]byte(text))))
	if err != nil {
		fail(err)
	}
	version := binary.LittleEndian.Uint16(raw[:2])
	switch version {
	case 2, 3:
		gcm, err := cipher.NewGCM(b)
		if err != nil {
			fail(err)
		}
		plain, err := gcm.Open(nil, raw[2:14], raw[14:], raw[:2])
		if err != nil {
			fail(err)
		}
		return plain, version
	case 16:
		body := raw[2+aes.BlockSize:]
		cipher.NewCBCDecrypter(b, raw[2:2+aes.BlockSize]).CryptBlocks(body, body)
		return body[:len(body)-int(body[len(body)-1])], version
	}
	fail(fmt.Errorf("version %d", version))
	return nil, 0
}

// walk applies f to every scalar leaf that is not a mapping key.
func walk(n *yaml.Node, f func(*yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			walk(c, f)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			walk(n.Content[i], f)
		}
	case yaml.ScalarNode:
		f(n)
	}
}

func main() {
	mode, b := os.Args[1], block(os.Args[2])
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	switch mode {
	case "encrypt-file":
		fmt.Println(sealGCM(b, 2, input))
	case "encrypt-file-cbc":
		fmt.Println(sealCBC(b, input))
	case "decrypt-file":
		plain, version := open(b, string(input))
		if version == 3 {
			fail(fmt.Errorf("a value's format (version 3) for a whole file"))
		}
		os.Stdout.Write(plain)
	case "encrypt-values", "encrypt-values-cbc", "decrypt-values":
		var doc yaml.Node
		if err := yaml.Unmarshal(input, &doc); err != nil {
			fail(err)
		}
		walk(&doc, func(n *yaml.Node) {
			if n.ShortTag() == "!!null" {
				return
			}
			switch mode {
			case "encrypt-values":
				framed := n.ShortTag() + "\x00" + strconv.Itoa(int(n.Style)) + "\x00" + n.Value
				*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: sealGCM(b, 3, []byte(framed))}
			case "encrypt-values-cbc":
				*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: sealCBC(b, []byte(n.Value))}
			case "decrypt-values":
				plain, version := open(b, n.Value)
				if version == 2 {
					fail(fmt.Errorf("werf v3 writes values as version 3, not 2"))
				}
				if version != 3 {
					*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: string(plain)}
					return
				}
				parts := bytes.SplitN(plain, []byte{0}, 3)
				if len(parts) != 3 {
					fail(fmt.Errorf("unframed value"))
				}
				style, err := strconv.Atoi(string(parts[1]))
				if err != nil {
					fail(err)
				}
				*n = yaml.Node{Kind: yaml.ScalarNode, Tag: string(parts[0]), Style: yaml.Style(style), Value: string(parts[2])}
			}
		})
		if mode == "decrypt-values" {
			var decoded interface{}
			if err := doc.Decode(&decoded); err != nil {
				fail(err)
			}
			out, err := json.Marshal(decoded)
			if err != nil {
				fail(err)
			}
			os.Stdout.Write(out)
			return
		}
		out, err := yaml.Marshal(&doc)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(out)
	default:
		fail(fmt.Errorf("unknown mode %s", mode))
	}
}
