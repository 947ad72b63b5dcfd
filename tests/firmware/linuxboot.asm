; linuxboot.asm — a PnP option ROM that boots a Linux bzImage handed to the
; firmware through fw_cfg, the way QEMU's linuxboot ROM does for -kernel,
; but through the 16-bit boot protocol (Documentation/arch/x86/boot.rst), so
; the kernel's real-mode setup meets SeaBIOS's services (INT 15h E820, INT
; 10h, ...) and then finds its interrupts from SeaBIOS's MP table.
;
; Files (fw_cfg, read by DMA): opt/umbra/kernel (the bzImage),
; opt/umbra/initrd (optional), opt/umbra/cmdline (optional).  Layout: setup
; at 0x10000 (segment 0x1000), stack/heap up to 0x1e000, command line at
; 0x1e000, the protected-mode kernel at 0x100000, the initrd below the top
; of RAM (from INT 15h E801) on a 4 KiB boundary.  A missing kernel prints a
; line and returns to the BIOS.
BITS 16
ORG 0

ROM_BLOCKS equ 4
SETUP_SEG  equ 0x1000
CMDLINE    equ 0x1e000
DESC       equ 0x1f000          ; FWCfgDmaAccess (16 bytes), linear
DIRBUF     equ 0x1f100          ; one directory entry (64 bytes), linear
FW_SEL     equ 0x510
FW_DATA    equ 0x511
FW_DMA_LO  equ 0x518

rom_start:
    db 0x55, 0xaa, ROM_BLOCKS
    jmp short init
    times 0x18-($-$$) db 0
    dw 0
    dw pnp
pnp:
    db '$PnP', 1, 2
    dw 0
    db 0, 0
    dd 0
    dw 0, product
    db 0, 0, 0, 0
    dw 0, 0, bev, 0, 0
product: db 'Umbra linuxboot', 0

init:
    retf

print:                          ; CS:SI
    push ax
    push bx
.l: cs lodsb
    test al, al
    jz .d
    mov ah, 0x0e
    mov bx, 7
    int 0x10
    jmp .l
.d: pop bx
    pop ax
    ret

hex32:                          ; print EAX in hex and a space (diagnostics)
    push eax
    push cx
    push bx
    mov cx, 8
.h: rol eax, 4
    push eax
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .p
    add al, 7
.p: mov ah, 0x0e
    mov bx, 7
    int 0x10
    pop eax
    loop .h
    mov ax, 0x0e20
    int 0x10
    pop bx
    pop cx
    pop eax
    ret

; find_file: CS:SI = name; returns CF clear, AX = selector, EDX = size
find_file:
    push es
    push di
    push cx
    push ebx
    mov ax, 0x0019
    mov dx, FW_SEL
    out dx, ax
    mov dx, FW_DATA
    xor ebx, ebx                ; count, big-endian bytes
    mov cx, 4
.cnt: in al, dx
    shl ebx, 8
    mov bl, al
    loop .cnt
    mov ax, DIRBUF >> 4
    mov es, ax
.next:
    test ebx, ebx
    jz .none
    dec ebx
    xor di, di
    mov cx, 64
.rd: in al, dx
    stosb
    loop .rd
    ; compare names: ES:8 vs CS:SI
    push si
    mov di, 8
.cmp: cs lodsb
    cmp al, [es:di]
    jne .diff
    inc di
    test al, al
    jnz .cmp
    pop si
    mov edx, [es:0]             ; size, big-endian
    bswap edx
    mov ax, [es:4]              ; select, big-endian
    xchg al, ah
    clc
    jmp .out
.diff:
    pop si
    jmp .next
.none:
    stc
.out:
    pop ebx
    pop cx
    pop di
    pop es
    ret

; dma: EAX = control, ECX = length, EDI = destination (linear); CF on error
dma:
    push es
    push ebx
    push edx
    push eax
    mov bx, DESC >> 4
    mov es, bx
    bswap eax
    mov [es:0], eax
    mov eax, ecx
    bswap eax
    mov [es:4], eax
    mov dword [es:8], 0
    mov eax, edi
    bswap eax
    mov [es:12], eax
    mov eax, DESC
    bswap eax
    mov dx, FW_DMA_LO
    out dx, eax
.wait:
    mov eax, [es:0]
    bswap eax
    test eax, ~1
    jnz .wait
    shr eax, 1                  ; error bit into CF
    pop eax
    pop edx
    pop ebx
    pop es
    ret

bev:
    mov si, msg_start
    call print
    mov si, name_kernel
    call find_file
    jc .nokernel
    mov bp, ax                  ; BP = kernel selector
    mov esi, edx                ; ESI = kernel size

    ; the boot sector and the first setup sector (the header spans both)
    movzx eax, bp
    shl eax, 16
    or eax, 0x0a                ; SELECT | READ
    mov ecx, 1024
    mov edi, SETUP_SEG << 4
    call dma
    jc .ioerr
    mov ax, SETUP_SEG
    mov es, ax
    cmp dword [es:0x202], 'HdrS'
    jne .notlinux
    cmp word [es:0x206], 0x0202
    jb .notlinux
    movzx ecx, byte [es:0x1f1]
    test cx, cx
    jnz .have_sects
    mov cx, 4
.have_sects:
    shl ecx, 9
    sub ecx, 512                ; the rest of the setup
    push ecx
    mov eax, 0x02               ; READ, continuing
    mov edi, (SETUP_SEG << 4) + 1024
    call dma
    pop ecx
    jc .ioerr
    add ecx, 1024               ; setup bytes in all
    sub esi, ecx                ; protected-mode kernel bytes
    mov ecx, esi
    mov eax, 0x02
    mov edi, 0x100000
    call dma
    jc .ioerr

    ; header fields for the kernel
    mov ax, SETUP_SEG
    mov es, ax
    mov byte [es:0x210], 0xff           ; type_of_loader: undefined
    or byte [es:0x211], 0x80            ; CAN_USE_HEAP
    mov word [es:0x224], 0xe000 - 0x200 ; heap_end_ptr
    mov dword [es:0x228], CMDLINE       ; cmd_line_ptr
    mov dword [es:0x218], 0             ; no initrd yet
    mov dword [es:0x21c], 0

    ; command line (empty if none); fw_cfg reads zeros past the end
    mov ax, CMDLINE >> 4
    mov es, ax
    mov byte [es:0], 0
    mov si, name_cmdline
    call find_file
    jc .no_cmdline
    cmp edx, 2047
    ja .no_cmdline
    movzx eax, ax
    shl eax, 16
    or eax, 0x0a
    lea ecx, [edx + 1]
    mov edi, CMDLINE
    call dma
    jc .ioerr
.no_cmdline:

    ; initrd, placed below the top of RAM (or below initrd_addr_max)
    mov si, name_initrd
    call find_file
    jc .no_initrd
    mov bp, ax                  ; the initrd's selector
    push edx
    mov ax, 0xe801
    int 0x15
    pop edx
    movzx ebx, bx               ; 64 KiB blocks above 16 MiB
    shl ebx, 16
    add ebx, 16 << 20           ; top of RAM
    mov ax, SETUP_SEG
    mov es, ax
    mov eax, [es:0x22c]         ; initrd_addr_max (the last byte's address)
    inc eax
    cmp ebx, eax
    jbe .top_ok
    mov ebx, eax
.top_ok:
    mov edi, ebx
    sub edi, edx
    and edi, ~0xfff
    cmp edi, 0x100000 + 0x1000000
    jb .ioerr                   ; it would overlap the kernel: not enough RAM
    mov [es:0x218], edi
    mov [es:0x21c], edx
    movzx eax, bp
    shl eax, 16
    or eax, 0x0a
    mov ecx, edx
    call dma
    jc .ioerr
.no_initrd:

    mov si, msg_go
    call print
    cli
    mov ax, SETUP_SEG
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, 0xe000
    jmp SETUP_SEG + 0x20:0

.nokernel:
    mov si, msg_nokernel
    call print
    retf
.notlinux:
    mov si, msg_notlinux
    call print
    retf
.ioerr:
    mov si, msg_ioerr
    call print
    retf

name_kernel:  db 'opt/umbra/kernel', 0
name_initrd:  db 'opt/umbra/initrd', 0
name_cmdline: db 'opt/umbra/cmdline', 0
msg_start:    db 'linuxboot: loading opt/umbra/kernel', 13, 10, 0
msg_go:       db 'linuxboot: starting the kernel', 13, 10, 0
msg_nokernel: db 'linuxboot: no opt/umbra/kernel', 13, 10, 0
msg_notlinux: db 'linuxboot: not a bzImage (boot protocol 2.02+)', 13, 10, 0
msg_ioerr:    db 'linuxboot: fw_cfg DMA or placement error', 13, 10, 0

    times ROM_BLOCKS * 512 - 1 - ($-$$) db 0
    db 0
