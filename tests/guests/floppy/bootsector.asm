; bootsector.asm — the floppy-boot acceptance test's boot sector (firmware
; path: SeaBIOS loads it from drive A at 0x7c00).  Through the BIOS only:
; INT 13h resets the drive, reads the 35 sectors that follow it (LBA 1-17 on
; head 0, LBA 18-35 on head 1 of cylinder 0) and checks their pattern, writes
; LBA 40 (C1 H0 R5) and reads it back; INT 10h prints the progress (which
; the firmware copies to COM1 under -nographic, so a headless run can be
; judged), and the verdict leaves through the isa-debug-exit port (0xf4):
; 0 = pass (exit status 1), 1 = fail (status 3).
;
; Sector pattern (fdimage bootmake writes it): word 0 = the LBA, byte i >= 2 =
; (LBA + i) & 0xff.  The written sector: word 0 = 0xb007, byte i = (i * 3) & 0xff.
        bits 16
        org 0x7c00

LOAD_SEG  equ 0x1000            ; sectors land at 0x10000 (one 64 KiB DMA page)
WRITE_LBA equ 40

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        sti
        cld
        mov [drive], dl

        mov si, msg_hello
        call puts

        xor ah, ah              ; reset the disk system
        mov dl, [drive]
        int 0x13
        mov si, msg_reset
        jc fail

        ; head 0, sectors 2-18 -> 0x10000
        mov ax, LOAD_SEG
        mov es, ax
        xor bx, bx
        mov ax, 0x0211          ; read 17 sectors
        mov cx, 0x0002          ; C0, R2
        xor dh, dh
        call disk_retry
        mov si, msg_read
        jc fail
        ; head 1, sectors 1-18 -> 0x12200
        mov bx, 17 * 512
        mov ax, 0x0212          ; read 18 sectors
        mov cx, 0x0001
        mov dh, 1
        call disk_retry
        mov si, msg_read
        jc fail

        ; check LBA 1-35
        mov ax, LOAD_SEG
        mov es, ax
        xor di, di
        mov dx, 1               ; LBA
.sector:
        mov si, msg_data
        cmp [es:di], dx
        jne fail
        mov cx, 2
.byte:
        mov bx, di
        add bx, cx
        mov al, dl
        add al, cl
        cmp [es:bx], al
        jne fail
        inc cx
        cmp cx, 512
        jb .byte
        add di, 512
        inc dx
        cmp dx, 36
        jb .sector
        mov si, msg_read_ok
        call puts

        ; build the sector to write at 0x18000, write it to C1 H0 R5
        mov ax, 0x1800
        mov es, ax
        xor di, di
        mov ax, 0xb007
        stosw
        mov cx, 2
.fill:
        mov al, cl
        mov ah, 3
        mul ah
        stosb
        inc cx
        cmp cx, 512
        jb .fill
        xor bx, bx
        mov ax, 0x0301
        mov cx, 0x0105          ; C1, R5
        xor dh, dh
        call disk_retry
        mov si, msg_write
        jc fail
        ; read it back to 0x19000 and compare
        mov ax, 0x1900
        mov es, ax
        xor bx, bx
        mov ax, 0x0201
        mov cx, 0x0105
        xor dh, dh
        call disk_retry
        mov si, msg_write
        jc fail
        push ds
        mov ax, 0x1800
        mov ds, ax
        xor si, si
        xor di, di
        mov cx, 256
        repe cmpsw
        pop ds
        mov si, msg_readback
        jne fail

        mov si, msg_pass
        call puts
        call settle
        mov al, 0
        out 0xf4, al
        jmp halt

fail:                           ; si = what failed
        push si
        mov si, msg_fail
        call puts
        pop si
        call puts
        call settle
        mov al, 1
        out 0xf4, al
halt:
        cli
        hlt
        jmp halt

; INT 13h with AX/CX/DH/ES:BX as given (DL = boot drive), up to 3 tries with
; a reset between them, as DOS does (a motor spinning up may fail the first).
disk_retry:
        mov [.ax], ax
        mov bp, 3
.try:
        mov ax, [.ax]
        mov dl, [drive]
        push bx
        push cx
        push dx
        int 0x13
        pop dx
        pop cx
        pop bx
        jnc .ok
        xor ah, ah
        mov dl, [drive]
        int 0x13
        dec bp
        jnz .try
        stc
.ok:
        ret
.ax:    dw 0

; Let three timer ticks (~165 ms) pass: the firmware's copy of the screen on
; COM1 is flushed from its timer, so an exit right after the last INT 10h
; would lose the end of it.
settle:
        sti
        mov ax, [0x46c]
        add ax, 3
.wait:
        hlt
        cmp [0x46c], ax
        jne .wait
        ret

; print the NUL-terminated string at ds:si on the screen
puts:
        push ax
        push bx
.next:
        lodsb
        test al, al
        jz .done
        mov ah, 0x0e
        mov bx, 0x0007
        int 0x10
        jmp .next
.done:
        pop bx
        pop ax
        ret

drive:        db 0
msg_hello:    db "=== guest start ===", 13, 10, "floppy boot: INT 13h", 13, 10, 0
msg_reset:    db "reset", 13, 10, 0
msg_read:     db "read", 13, 10, 0
msg_data:     db "data", 13, 10, 0
msg_write:    db "write", 13, 10, 0
msg_readback: db "read back", 13, 10, 0
msg_read_ok:  db "ok read 35 sectors", 13, 10, 0
msg_pass:     db "PASS floppy_boot", 13, 10, 0
msg_fail:     db "FAIL floppy_boot: ", 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
