# SPDX-License-Identifier: GPL-2.0
# bash completion for agentctl(8)

_agentctl_vmm_pids()
{
	# live names: processes that hold a KVM VM
	local p
	for p in /proc/[0-9]*; do
		ls -l "$p/fd" 2>/dev/null | grep -q 'anon_inode:kvm-vm' &&
			echo "${p#/proc/}"
	done
}

_agentctl()
{
	local cur prev words cword cmd i
	_init_completion || return

	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s) ((i++)) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done

	case $prev in
	--vm) COMPREPLY=($(compgen -W "$(_agentctl_vmm_pids)" -- "$cur")); return ;;
	--mode) COMPREPLY=($(compgen -W "loose sync" -- "$cur")); return ;;
	--throttle) COMPREPLY=($(compgen -W "off auto" -- "$cur")); return ;;
	--vmm|--qmp|-s) _filedir; return ;;
	--to|--downtime-ms|--max-rounds|--bandwidth-mbps|--deadline-us|--throttle-max) return ;;
	--interval|--count) return ;;
	esac

	case $cmd in
	"")
		COMPREPLY=($(compgen -W "status attach detach trace harvest stats migrate check top -j -s -h" -- "$cur")) ;;
	trace)
		if [[ ${words[cword-1]} == trace ]]; then
			COMPREPLY=($(compgen -W "start stop" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--vm --mode --deadline-us" -- "$cur"))
		fi ;;
	attach|detach|harvest|stats)
		COMPREPLY=($(compgen -W "--vm" -- "$cur")) ;;
	migrate)
		COMPREPLY=($(compgen -W "--vm --to --vmm --mode --downtime-ms --max-rounds --bandwidth-mbps --deadline-us --no-reconcile --throttle --throttle-max" -- "$cur")) ;;
	check)
		COMPREPLY=($(compgen -W "--vm --qmp" -- "$cur")) ;;
	top)
		COMPREPLY=($(compgen -W "--vm --interval --count" -- "$cur")) ;;
	esac
}
complete -F _agentctl agentctl
