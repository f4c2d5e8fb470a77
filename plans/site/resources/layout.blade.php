{{-- layout overrides --}}
