; optionrom.asm — a PnP option ROM with a boot entry vector (BEV), handed to
; SeaBIOS as fw_cfg file "genroms/umbra-test.bin".  SeaBIOS runs it and, with
; no disk to boot, boots it: the BEV then checks, in real mode, what an OS
; loader finds after the firmware handed over (with -m 128):
;   1 INT 12h base memory is 639 KiB (SeaBIOS's 1 KiB EBDA)
;   2 INT 15h E820 has RAM from 1 MiB up to 96..127 MiB, none beyond 128 MiB
;   3 INT 15h E801 agrees: 15 MiB below 16 MiB, 1500..1792 blocks above
;   4 an MP floating pointer in 0xF0000-0xFFFFF, checksummed, pointing at a
;     "PCMP" table with one CPU, one I/O APIC, and ISA IRQ 0 on APIC pin 2
;   5 a $PIR (PCI interrupt routing) table in 0xF0000-0xFFFFF
;   6 the BIOS segment is write-protected shadow RAM (PAM): a write is lost
;   7 the BDA lists COM1 at 0x3f8
; It prints through INT 10h (SeaBIOS's serial console) and exits through the
; isa-debug-exit port 0xf4: 0 when every check passed, else the check number.
; The checksum byte (the last) is fixed up by the test script.
BITS 16
ORG 0

ROM_BLOCKS equ 4

rom_start:
    db 0x55, 0xaa, ROM_BLOCKS
    jmp short init
    times 0x18-($-$$) db 0
    dw 0                        ; no PCI data structure
    dw pnp                      ; PnP expansion header

pnp:
    db '$PnP'
    db 1                        ; revision
    db 2                        ; length in 16-byte units
    dw 0                        ; no next header
    db 0, 0                     ; reserved, checksum (unchecked)
    dd 0                        ; device id
    dw 0                        ; manufacturer string
    dw product                  ; product string
    db 0, 0, 0, 0               ; device type, indicators
    dw 0, 0                     ; BCV, disconnect vector
    dw bev                      ; boot entry vector
    dw 0, 0

product: db 'Umbra firmware test', 0

init:
    retf

; ---- helpers ----
print:                          ; DS:SI NUL-terminated
    push ax
    push bx
.l: lodsb
    test al, al
    jz .d
    mov ah, 0x0e
    mov bx, 0x0007
    int 0x10
    jmp .l
.d: pop bx
    pop ax
    ret

fail:                           ; AL = check number
    push ax
    mov si, msg_fail
    call print
    pop ax
    push ax
    add al, '0'
    mov ah, 0x0e
    mov bx, 0x0007
    int 0x10
    mov si, msg_crlf
    call print
    pop ax
    out 0xf4, al
    cli
    hlt

; scan F000:0000-FFF0 for the dword in EAX on 16-byte boundaries;
; ZF set and ES:DI at it when found
scan_f000:
    push bx
    mov bx, 0xf000
    mov es, bx
    xor di, di
.s: cmp [es:di], eax
    je .found
    add di, 16
    jnz .s
    or bx, bx                   ; ZF clear: not found
.found:
    pop bx
    ret

; ---- the boot entry ----
bev:
    push cs
    pop ds
    cld
    mov si, msg_start
    call print

    ; 1: base memory
    int 0x12
    cmp ax, 639
    mov al, 1
    jne fail

    ; 2: E820
    xor ebx, ebx
    xor bp, bp
    mov ax, 0x0800
    mov es, ax
.e820:
    xor di, di
    mov eax, 0xe820
    mov ecx, 20
    mov edx, 0x534d4150
    int 0x15
    jc .e820_bad
    cmp eax, 0x534d4150
    jne .e820_bad
    cmp dword [es:16], 1        ; RAM?
    jne .e820_next
    cmp dword [es:4], 0
    jne .e820_bad               ; RAM above 4 GiB: not with -m 128
    mov eax, [es:0]
    add eax, [es:8]             ; end of this RAM range
    cmp eax, 128 << 20
    ja .e820_bad
    cmp dword [es:0], 0x100000
    jne .e820_next
    cmp eax, 96 << 20
    jb .e820_bad
    inc bp
.e820_next:
    test ebx, ebx
    jnz .e820
    cmp bp, 1
    je .e820_ok
.e820_bad:
    mov al, 2
    jmp fail
.e820_ok:

    ; 3: E801
    mov ax, 0xe801
    int 0x15
    jc .e801_bad
    cmp ax, 15360
    jne .e801_bad
    cmp bx, 1500
    jb .e801_bad
    cmp bx, 1792
    jbe .e801_ok
.e801_bad:
    mov al, 3
    jmp fail
.e801_ok:

    ; 4: the MP floating pointer and its configuration table
    mov eax, '_MP_'
    call scan_f000
    jne .mp_bad
    push di                     ; kept for check 6 (the ROM itself is read-only)
    xor ax, ax
    mov cx, 16
    push di
.mpsum:
    add al, [es:di]
    inc di
    loop .mpsum
    pop di
    test al, al
    jnz .mp_bad
    mov eax, [es:di+4]          ; physical address of the table
    cmp eax, 0x100000
    jae .mp_bad                 ; SeaBIOS puts it in the F segment
    mov bx, ax
    and bx, 0x0f
    shr eax, 4
    mov es, ax                  ; ES:BX = table
    cmp dword [es:bx], 'PCMP'
    jne .mp_bad
    mov cx, [es:bx+0x22]        ; entry count
    lea si, [bx+44]
    xor dx, dx                  ; DL CPUs, DH I/O APICs
    xor bp, bp                  ; IRQ 0 -> pin 2 seen
.mpent:
    jcxz .mpdone
    mov al, [es:si]
    cmp al, 0
    jne .not_cpu
    inc dl
    add si, 20
    dec cx
    jmp .mpent
.not_cpu:
    cmp al, 2
    jne .not_ioapic
    inc dh
.not_ioapic:
    cmp al, 3
    jne .next8
    cmp byte [es:si+5], 0       ; source bus IRQ 0
    jne .next8
    cmp byte [es:si+7], 2       ; destination I/O APIC pin 2
    jne .next8
    inc bp
.next8:
    add si, 8
    dec cx
    jmp .mpent
.mpdone:
    cmp dx, 0x0101
    jne .mp_bad
    test bp, bp
    jnz .mp_ok
.mp_bad:
    mov al, 4
    jmp fail
.mp_ok:

    ; 5: $PIR
    mov eax, '$PIR'
    call scan_f000
    mov al, 5
    jne fail

    ; 6: the F segment is read-only shadow RAM now
    mov ax, 0xf000
    mov es, ax
    pop di
    mov al, [es:di]
    mov ah, al
    not al
    mov [es:di], al
    wbinvd
    cmp [es:di], ah
    mov al, 6
    jne fail

    ; 7: COM1 in the BIOS data area
    xor ax, ax
    mov es, ax
    cmp word [es:0x400], 0x3f8
    mov al, 7
    jne fail

    mov si, msg_pass
    call print
    xor al, al
    out 0xf4, al
    cli
    hlt

msg_start: db 'Umbra option ROM: booted by the BIOS', 13, 10, 0
msg_pass:  db 'PASS option ROM: memory map, MP table, $PIR, write-protected BIOS, BDA', 13, 10, 0
msg_fail:  db 'FAIL option ROM check ', 0
msg_crlf:  db 13, 10, 0

    times ROM_BLOCKS * 512 - 1 - ($-$$) db 0
    db 0                        ; checksum, fixed up by the test
