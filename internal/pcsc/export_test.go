package pcsc

import (
	"net"
	"reflect"

	lib "github.com/gballet/go-libpcsclite"
)

func reflectField() (reflect.StructField, bool) {
	f, ok := reflect.TypeFor[lib.Client]().FieldByName("conn")
	return f, ok && f.Type == reflect.TypeFor[net.Conn]()
}
